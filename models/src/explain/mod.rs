//! Explanations: exact Shapley values for the payload model in use (closed
//! form for the linear model, subset enumeration for the rules), exact
//! Shapley values for the behaviour score, a one-paragraph narrative, and a
//! self-contained HTML report.

pub mod behaviour;
pub mod html;
pub mod narrative;
pub mod payload;
pub mod shapley;

pub use behaviour::explain_behaviour;
pub use narrative::{class_name, verdict_narrative};
pub use payload::{explain_payload, LinearExplainer};
