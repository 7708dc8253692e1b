//! One-shot science commands of the binary (no database): `visibilities`, `locate`, `image`.
//! Their output fields are read by other tools: keep them exactly.

pub mod image;
pub mod ingest;
pub mod science;

/// A failed one-shot command: the message for stderr and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Exit status (1: the command failed; 2: the input is the wrong kind of file, like a
    /// usage error).
    pub status: u8,
    /// One line for stderr.
    pub message: String,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { status: 1, message }
    }
}

impl Failure {
    /// The failure of a science workflow error: status 2 for `wrong_product`, else 1.
    pub fn of_workflow(e: &domain::workflow::WorkflowError) -> Self {
        let code = e.reject_code();
        let status = match code {
            Some(domain::l1::RejectCode::WrongProduct) => 2,
            _ => 1,
        };
        let mut message = e.to_string();
        if let Some(c) = code
            && !message.contains(&format!("[{c}]"))
        {
            message = format!("{message} [{c}]");
        }
        Failure { status, message }
    }
}
