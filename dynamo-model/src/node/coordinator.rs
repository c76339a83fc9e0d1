//! Client requests, forwarding to an owner (§4.5), and the coordinator: one
//! state machine per request, with its quorum, timeouts, fallbacks and read
//! repair.

#[allow(clippy::wildcard_imports)]
use super::*;

impl DynamoNode {
    // ---- client requests and forwarding (§4.5) ----

    pub(super) fn on_request(
        &mut self,
        client: ClientId,
        req: u64,
        request: Request,
        forwarded: bool,
        cx: Cx,
    ) {
        let Some(key) = request.key() else {
            return; // membership changes are served in handle()
        };
        let top = self.ring.preference_list(key, self.cfg.n as usize);
        // A proxy owns nothing and coordinates everything it is sent.
        let proxy = self.cfg.is_proxy(self.id);
        if self.cfg.forward_to_owner && !forwarded && !proxy && !top.contains(&self.id) {
            self.forward(client, req, request, Vec::new(), cx);
            return;
        }
        self.coordinate(client, req, request, cx);
    }

    /// Forwards a request to the first owner of the top N believed up and not
    /// tried yet, and waits for it to take the request; with none left, this
    /// node coordinates (§4.5 lets any node coordinate).
    pub(super) fn forward(
        &mut self,
        client: ClientId,
        req: u64,
        request: Request,
        mut tried: Vec<NodeId>,
        cx: Cx,
    ) {
        let n = self.cfg.n as usize;
        let Some(key) = request.key() else {
            return;
        };
        let top = self.ring.preference_list(key, n);
        let mine = self.cfg.datacenter_of(self.id);
        let untried = |local: bool| {
            top.iter().copied().find(|&o| {
                self.healthy(o)
                    && !tried.contains(&o)
                    && (!local || self.cfg.datacenter_of(o) == mine)
            })
        };
        // Data-centre-aware: an owner in this node's data centre first.
        let next = if self.cfg.datacenter_aware {
            untried(true).or_else(|| untried(false))
        } else {
            untried(false)
        };
        let label = request.label();
        let Some(owner) = next else {
            Self::note(cx, "coordinate", || {
                if tried.is_empty() {
                    format!(
                        "{label}#{req}: no node of the top {n} is believed up; coordinating here"
                    )
                } else {
                    format!("{label}#{req}: no owner of the top {n} took it; coordinating here")
                }
            });
            self.coordinate(client, req, request, cx);
            return;
        };
        self.stats.forwarded += 1;
        let me = self.id;
        Self::note(cx, "forward", || {
            format!("{label}#{req} -> {owner} ({me} is not in the top {n})")
        });
        cx.send(
            owner,
            Msg::Forward {
                client,
                req,
                request: request.clone(),
            },
        );
        tried.push(owner);
        let timer = cx.set_timer(self.cfg.request_timeout, Timer::Forward { req });
        self.forwards.insert(
            req,
            Forwarding {
                client,
                request,
                tried,
                timer,
            },
        );
    }

    /// The owner a request was forwarded to took it.
    pub(super) fn on_forward_ack(&mut self, from: NodeId, req: u64, cx: Cx) {
        if self
            .forwards
            .get(&req)
            .is_some_and(|f| f.tried.last() == Some(&from))
        {
            let f = self.forwards.remove(&req).expect("present");
            cx.cancel_timer(f.timer);
        }
    }

    /// The owner did not take a forwarded request in time: it is treated as
    /// down, like a replica that does not answer, and the next owner is tried.
    pub(super) fn on_forward_timeout(&mut self, req: u64, cx: Cx) {
        let Some(f) = self.forwards.remove(&req) else {
            return;
        };
        let owner = *f.tried.last().expect("a forward has a target");
        if self.view.mark_down(owner) {
            Self::note(cx, "view", || {
                format!(
                    "{owner} is down (did not take a forwarded request within {})",
                    self.cfg.request_timeout
                )
            });
        }
        let label = f.request.label();
        Self::note(cx, "timeout", || {
            format!("{label}#{req}: {owner} did not take the forwarded request")
        });
        self.forward(f.client, req, f.request, f.tried, cx);
    }

    /// Chooses the first N healthy nodes of the key's walk; fallbacks carry a
    /// hint naming the skipped owner they stand in for (sloppy quorum, §4.6).
    /// With hinted handoff off the quorum is strict: only the top N.
    pub(super) fn choose_targets(&self, key: &Key) -> (Vec<Target>, usize) {
        let mut walk = self.ring.walk(key);
        let n = self.cfg.n as usize;
        let mut targets = Vec::with_capacity(n);
        let mut skipped = VecDeque::new();
        let mut i = 0;
        while targets.len() < n {
            let Some(node) = walk.next() else { break };
            i += 1;
            let new = |hint| Target {
                node,
                hint,
                slot: Slot::Pending,
                versions: Vec::new(),
            };
            if i <= n {
                if self.healthy(node) || !self.cfg.hinted_handoff {
                    targets.push(new(None));
                } else {
                    skipped.push_back(node);
                }
            } else if self.healthy(node) {
                targets.push(new(skipped.pop_front()));
            }
        }
        if self.cfg.datacenter_aware {
            // Replicas in this node's data centre are contacted first.
            let mine = self.cfg.datacenter_of(self.id);
            targets.sort_by_key(|t| self.cfg.datacenter_of(t.node) != mine);
        }
        (targets, i)
    }

    pub(super) fn coordinate(&mut self, client: ClientId, req: u64, request: Request, cx: Cx) {
        let op_id = self.next_op;
        self.next_op += 1;
        let Some(key) = request.key() else {
            return;
        };
        let (mut targets, next_fallback) = self.choose_targets(key);
        let (key, work, needed) = match request {
            Request::Get { key } => {
                self.stats.coordinated_gets += 1;
                (key, Work::Get, self.cfg.r)
            }
            Request::Put {
                key,
                value,
                context,
            } => {
                self.stats.coordinated_puts += 1;
                let version = self.new_version(&key, value, &context, req, cx);
                (key, Work::Put { version }, self.cfg.w)
            }
            Request::Delete { key, context } => {
                // A delete is a put of a tombstone (§4.4's versioning applies unchanged).
                self.stats.coordinated_puts += 1;
                let version = self
                    .new_version(&key, Arc::from(""), &context, req, cx)
                    .tombstone();
                (key, Work::Put { version }, self.cfg.w)
            }
            Request::Admin(_) => return, // served in handle()
        };
        if self.cfg.random_quorums {
            // W (or R) of the N replicas, uniformly at random; all must answer.
            cx.rng().shuffle(&mut targets);
            targets.truncate(needed as usize);
        }
        let me = self.id;
        Self::note(cx, "coordinate", || {
            let list: Vec<String> = targets
                .iter()
                .map(|t| match t.hint {
                    Some(h) => format!("{}(for {h})", t.node),
                    None => t.node.to_string(),
                })
                .collect();
            format!(
                "op{op_id} for {}#{req} from {client} key {key}: replicas [{}], need {needed}",
                match &work {
                    Work::Get => "get",
                    Work::Put { version } if version.is_deleted() => "delete",
                    Work::Put { .. } => "put",
                },
                list.join(" ")
            )
        });
        // The coordinator's own part happens at once.
        for t in &mut targets {
            if t.node == me {
                t.slot = Slot::Answered;
                match &work {
                    Work::Put { version } => {
                        let v = version.clone();
                        self.store_version(&key, &v, t.hint, cx);
                    }
                    Work::Get => t.versions = self.local_versions(&key),
                }
            }
        }
        for t in targets.iter().filter(|t| t.node != me) {
            cx.send(t.node, request_msg(op_id, &key, &work, t.hint));
        }
        let deadline = cx.set_timer(self.cfg.op_deadline, Timer::Deadline { op: op_id });
        let round_timer = targets.iter().any(|t| t.slot == Slot::Pending).then(|| {
            cx.set_timer(
                self.cfg.request_timeout,
                Timer::ReplicaTimeout {
                    op: op_id,
                    round: 0,
                },
            )
        });
        let op = Op {
            client,
            req,
            key,
            work,
            needed,
            targets,
            next_fallback,
            round: 0,
            replied: false,
            #[cfg(feature = "bugs")]
            dups: Vec::new(),
            round_timer,
            repair_timer: None,
            deadline: Some(deadline),
        };
        self.ops.insert(op_id, op);
        self.progress(op_id, cx);
    }

    /// This node's actor in vector clocks: its id and its disk's epoch.
    pub(super) fn actor(&self) -> Actor {
        Actor {
            node: self.id,
            epoch: self.epoch.unwrap_or(0),
        }
    }

    /// The new version: the context's clock with this node's counter moved
    /// past every counter of its own it has seen or issued for the key (§4.4).
    pub(super) fn new_version(
        &mut self,
        key: &Key,
        value: Arc<str>,
        context: &VClock,
        req: u64,
        cx: Cx,
    ) -> Version {
        let me = self.id;
        let stamp = Stamp {
            clock_us: cx.clock_us(),
            node: me,
            tombstone: false,
        };
        if self.cfg.versioning == Versioning::LastWriteWins {
            // Last write wins orders versions by stamp alone; they carry no vector clock.
            return Version {
                value,
                clock: VClock::new(),
                dot: None,
                stamp,
                write: req,
            };
        }
        let actor = self.actor();
        #[cfg(feature = "bugs")]
        let empty = VClock::new();
        #[cfg(feature = "bugs")]
        let context = crate::bugs::context(self.cfg.bug, context, &empty);
        let seen = self
            .store
            .get(key)
            .into_iter()
            .flatten()
            .chain(
                self.hints
                    .iter()
                    .filter(|((_, k), _)| k == key)
                    .flat_map(|(_, h)| &h.versions),
            )
            .map(|v| v.clock.max_counter(actor))
            .max()
            .unwrap_or(0);
        let issued = self.issued.get(key).copied().unwrap_or(0);
        let counter = context.max_counter(actor).max(seen).max(issued) + 1;
        self.issued.insert(key.clone(), counter);
        let mut v = Version::written(value, context, actor, counter, cx.clock_us(), req);
        let dropped = v
            .clock
            .truncate_keeping(self.cfg.vclock_max_entries as usize, Some(actor));
        if dropped > 0 {
            self.stats.clock_truncations += dropped as u64;
            Self::note(cx, "truncate", || {
                format!("key {key}: dropped {dropped} oldest clock entries")
            });
        }
        v
    }

    /// Replies to the client once the quorum is reached, and retires the op when nothing is left to do.
    pub(super) fn progress(&mut self, op_id: OpTag, cx: Cx) {
        let Some(op) = self.ops.get_mut(&op_id) else {
            return;
        };
        let got = op.answered();
        if !op.replied && got >= op.needed {
            op.replied = true;
            let reply = match &op.work {
                Work::Put { version } => Reply::Put {
                    clock: version.clock.clone(),
                    stamp: version.stamp,
                    acks: got,
                    op: op_id,
                    from: op.answered_by(),
                    deleted: version.is_deleted(),
                },
                Work::Get => {
                    let versions = reconciled(op, &self.cfg);
                    Reply::Got {
                        context: merged_clock(&versions),
                        versions,
                        replies: got,
                        op: op_id,
                        from: op.answered_by(),
                    }
                }
            };
            cx.reply(op.client, op.req, reply);
            if op.is_get()
                && self.cfg.read_repair
                && op.targets.iter().any(|t| t.slot == Slot::Pending)
            {
                op.repair_timer = Some(
                    cx.set_timer(self.cfg.read_repair_window, Timer::ReadRepair { op: op_id }),
                );
            }
        }
        let op = &self.ops[&op_id];
        if op.replied && op.targets.iter().all(|t| t.slot != Slot::Pending) {
            // Every replica answered or was given up on: the op is done.
            self.finish(op_id, cx);
        }
    }

    pub(super) fn finish(&mut self, op_id: OpTag, cx: Cx) {
        let Some(op) = self.ops.remove(&op_id) else {
            return;
        };
        for t in [op.deadline, op.round_timer, op.repair_timer]
            .into_iter()
            .flatten()
        {
            cx.cancel_timer(t);
        }
        if op.is_get() && op.replied && self.cfg.read_repair {
            self.read_repair(&op, cx);
        }
    }

    /// Sends the reconciled versions to every owner that answered with something older (§5).
    pub(super) fn read_repair(&mut self, op: &Op, cx: Cx) {
        let newest = reconciled(op, &self.cfg);
        if newest.is_empty() {
            return;
        }
        for t in op
            .targets
            .iter()
            .filter(|t| t.slot == Slot::Answered && t.hint.is_none())
        {
            if same_versions(&t.versions, &newest) {
                continue;
            }
            self.stats.read_repairs += 1;
            let key = op.key.clone();
            Self::note(cx, "read-repair", || {
                format!("{} is stale for key {key}", t.node)
            });
            let to = t.node;
            #[cfg(feature = "bugs")]
            let to = crate::bugs::repair_target(self.cfg.bug, to, self.cfg.nodes);
            if to == self.id {
                self.merge_into_store(&op.key, &newest, cx);
            } else {
                cx.send(
                    to,
                    Msg::Repair {
                        key: op.key.clone(),
                        versions: newest.clone(),
                    },
                );
            }
        }
    }

    pub(super) fn on_replica_timeout(&mut self, op_id: OpTag, round: u32, cx: Cx) {
        let hh = self.cfg.hinted_handoff;
        let Some(op) = self.ops.get(&op_id) else {
            return;
        };
        if op.round != round {
            return;
        }
        let late: Vec<(usize, NodeId, Option<NodeId>)> = op
            .targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.slot == Slot::Pending)
            .map(|(i, t)| (i, t.node, t.hint))
            .collect();
        let mut next = op.next_fallback;
        let mut walk = self.ring.walk(&op.key).skip_to(next);
        let mut new_targets = Vec::new();
        for &(_, node, hint) in &late {
            self.stats.replica_timeouts += 1;
            if self.view.mark_down(node) {
                Self::note(cx, "view", || {
                    format!(
                        "{node} is down (no answer within {})",
                        self.cfg.request_timeout
                    )
                });
            }
            let op = &self.ops[&op_id];
            let mut replacement = None;
            if hh {
                for cand in walk.by_ref() {
                    next += 1;
                    if self.healthy(cand)
                        && !op.targets.iter().any(|t| t.node == cand)
                        && !new_targets.iter().any(|t: &Target| t.node == cand)
                    {
                        replacement = Some(cand);
                        break;
                    }
                }
            }
            let stands_for = hint.unwrap_or(node);
            Self::note(cx, "timeout", || match replacement {
                Some(f) => {
                    format!("op{op_id}: {node} did not answer; fallback {f} hint={stands_for}")
                }
                None => format!("op{op_id}: {node} did not answer; no fallback left"),
            });
            if let Some(f) = replacement {
                new_targets.push(Target {
                    node: f,
                    hint: Some(stands_for),
                    slot: Slot::Pending,
                    versions: Vec::new(),
                });
            }
        }
        let me = self.id;
        // A coordinator outside the preference list can itself be the next fallback: it serves locally.
        for t in new_targets.iter_mut().filter(|t| t.node == me) {
            t.slot = Slot::Answered;
            let op = &self.ops[&op_id];
            let key = op.key.clone();
            match &op.work {
                Work::Put { version } => {
                    let v = version.clone();
                    self.store_version(&key, &v, t.hint, cx);
                }
                Work::Get => t.versions = self.local_versions(&key),
            }
        }
        let op = self.ops.get_mut(&op_id).expect("op exists");
        for (i, ..) in &late {
            op.targets[*i].slot = Slot::TimedOut;
        }
        op.next_fallback = next;
        op.round += 1;
        op.round_timer = None;
        for t in new_targets.iter().filter(|t| t.node != me) {
            cx.send(t.node, request_msg(op_id, &op.key, &op.work, t.hint));
        }
        if new_targets.iter().any(|t| t.slot == Slot::Pending) {
            op.round_timer = Some(cx.set_timer(
                self.cfg.request_timeout,
                Timer::ReplicaTimeout {
                    op: op_id,
                    round: op.round,
                },
            ));
        }
        op.targets.extend(new_targets);
        self.progress(op_id, cx);
    }

    pub(super) fn on_deadline(&mut self, op_id: OpTag, cx: Cx) {
        let Some(op) = self.ops.get_mut(&op_id) else {
            return;
        };
        op.deadline = None;
        if !op.replied {
            op.replied = true;
            let (got, needed) = (op.answered(), op.needed);
            Self::note(cx, "failed", || {
                format!("op{op_id}: quorum not reached: {got} of {needed} answered")
            });
            let put = !op.is_get();
            let deleted = matches!(&op.work, Work::Put { version } if version.is_deleted());
            let reply = Reply::Failed {
                put,
                deleted,
                got,
                needed,
                op: op_id,
            };
            cx.reply(op.client, op.req, reply);
            #[cfg(feature = "bugs")]
            if crate::bugs::stays_open_after_failing(self.cfg.bug) {
                op.replied = false;
                return;
            }
        }
        self.finish(op_id, cx);
    }

    pub(super) fn on_answer(
        &mut self,
        from: NodeId,
        op_id: OpTag,
        versions: Option<Vec<Version>>,
        cx: Cx,
    ) {
        let Some(op) = self.ops.get_mut(&op_id) else {
            return;
        };
        let Some(t) = op
            .targets
            .iter_mut()
            .find(|t| t.node == from && t.slot != Slot::Answered)
        else {
            #[cfg(feature = "bugs")]
            if crate::bugs::counts_duplicate(self.cfg.bug)
                && op.targets.iter().any(|t| t.node == from)
            {
                op.dups.push(from);
                self.progress(op_id, cx);
            }
            return;
        };
        t.slot = Slot::Answered;
        if let Some(v) = versions {
            t.versions = v;
        }
        self.progress(op_id, cx);
    }
}
