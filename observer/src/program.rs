//! Client programs: workloads that decide their next operations from the
//! replies to earlier ones, as an experiment's trials do (put a value, then
//! read it back after each delay; write a key `m` times, then read it; add
//! to a set by read-modify-write). A program runs on the cluster's own
//! clients ([`Clients`]): they route its operations, give up on those that
//! take too long, and hand it each one's record ([`OpRecord`]) as it ends,
//! keeping none once ended, so a program's memory does not grow with its
//! trials.

use crate::clients::{Clients, Wake};
use crate::history::OpRecord;
use crate::plan::ProgramOp;
use dynamo_model::{DynamoNode, Reply};
use sim_core::{ClientId, Core, Harness, NodeId, SimTime};

/// A client program.
pub trait Program {
    /// Issues the first operations.
    fn start(&mut self, io: &mut ProgramIo<'_>);
    /// One of its operations ended: replied to, or given up on (timed out).
    fn done(&mut self, op: &OpRecord, io: &mut ProgramIo<'_>);
    /// A wake-up it asked for with [`ProgramIo::wake_at`].
    fn wake(&mut self, _tag: u64, _io: &mut ProgramIo<'_>) {}
}

/// What a program acts through: the clients and the simulation's clock.
pub struct ProgramIo<'a> {
    clients: &'a mut Clients,
    core: &'a mut Core<DynamoNode, Wake>,
}

impl ProgramIo<'_> {
    /// The simulated time now.
    pub fn now(&self) -> SimTime {
        self.core.now()
    }

    /// Issues `op` now; returns its request id (its record's `id`).
    pub fn issue(&mut self, op: ProgramOp) -> u64 {
        self.clients.issue_program_op(self.core, op)
    }

    /// Wakes the program at `at` with `tag`.
    pub fn wake_at(&mut self, at: SimTime, tag: u64) {
        self.core.schedule_wake(at, Wake::Program(tag));
    }
}

/// The clients' harness while a program runs: replies and wake-ups go to it.
pub(crate) struct Running<'a, P: Program + ?Sized> {
    pub(crate) clients: &'a mut Clients,
    pub(crate) program: &'a mut P,
}

impl<P: Program + ?Sized> Running<'_, P> {
    /// Lets the program issue its first operations.
    pub(crate) fn start(&mut self, core: &mut Core<DynamoNode, Wake>) {
        let mut io = ProgramIo {
            clients: self.clients,
            core,
        };
        self.program.start(&mut io);
    }
}

impl<P: Program + ?Sized> Harness<DynamoNode> for Running<'_, P> {
    type Wake = Wake;

    fn on_reply(
        &mut self,
        core: &mut Core<DynamoNode, Wake>,
        _client: ClientId,
        req: u64,
        _node: NodeId,
        reply: Reply,
    ) {
        if let Some(rec) = self.clients.end_program_op(core, req, reply) {
            let mut io = ProgramIo {
                clients: self.clients,
                core,
            };
            self.program.done(&rec, &mut io);
        }
    }

    fn on_wake(&mut self, core: &mut Core<DynamoNode, Wake>, wake: Wake) {
        match wake {
            Wake::Program(tag) => {
                let mut io = ProgramIo {
                    clients: self.clients,
                    core,
                };
                self.program.wake(tag, &mut io);
            }
            Wake::ProgramTimeout(req) => {
                if let Some(rec) = self.clients.time_out_program_op(core, req) {
                    let mut io = ProgramIo {
                        clients: self.clients,
                        core,
                    };
                    self.program.done(&rec, &mut io);
                }
            }
            // Nothing else is planned while a program runs.
            _ => {}
        }
    }
}
