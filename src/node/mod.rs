//! `certwire node`: the node's Kubernetes PKI audited from its files, before anything is
//! rejected: every certificate each component uses or trusts, by role, judged by what that
//! component requires of it (the same finding objects and codes as `analyze`), and, with
//! `--probe`, what the node's servers actually serve.

use crate::cli::NodeArgs;
use crate::error::OutputError;

/// Run `certwire node` and return the exit status.
pub fn run(args: &NodeArgs) -> Result<i32, OutputError> {
    let _ = args;
    eprintln!("certwire node: not yet implemented");
    Ok(crate::cli::exit::FAILURE)
}
