//! What runs produce for people and tools: the run summary, SVG charts,
//! Chrome trace-event JSON, and experiments with their tables and reports.

pub mod chrome;
pub mod experiment;
pub mod summary;
pub mod svg;
