//! The node's one door out, named once for every mechanism file: the
//! context a handler gets, whose effects (sends, timers, replies, notes)
//! carry Dynamo's messages.
//!
//! Handlers are generic over the node type `N`, so that no mechanism file
//! needs the node type itself, which is built from them: imports flow from
//! the node down to its mechanisms, never back.

use crate::msg::{Msg, Note, Reply, Request, Timer};
use sim_core::Context;

/// A node type whose messages, timers, requests, replies and notes are Dynamo's.
pub(crate) trait Wire:
    sim_core::Node<Msg = Msg, Timer = Timer, Request = Request, Reply = Reply, Note = Note>
{
}

impl<N> Wire for N where
    N: sim_core::Node<Msg = Msg, Timer = Timer, Request = Request, Reply = Reply, Note = Note>
{
}

/// A handler's context.
pub(crate) type Cx<'a, 'b, N> = &'a mut Context<'b, N>;

/// Adds a note to the trace; `text` runs only when the trace is recording.
pub(crate) fn note<N: Wire>(cx: Cx<'_, '_, N>, label: &'static str, text: impl FnOnce() -> String) {
    cx.note_with(|| Note {
        label,
        text: text(),
    });
}
