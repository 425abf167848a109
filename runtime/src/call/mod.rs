//! The call contract both sides honour, whatever wire protocol carries the call: when a
//! call must end ([`deadline`]), how either side stops it ([`cancel`]), and which status it
//! ends with ([`status`]). The client and the server use this layer; neither keeps a rule
//! of its own.
//!
//! A wire protocol (gRPC today; gRPC-Web and Connect are to come) brings only its encodings:
//! its timeout header is a [`deadline::TimeoutHeader`], and how it writes a status goes in
//! [`status`] next to gRPC's.

pub(crate) mod cancel;
pub(crate) mod deadline;
pub(crate) mod status;
