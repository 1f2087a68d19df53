//! The `certwire` binary: parse arguments, run, map the outcome to an exit status.

use std::io::{ErrorKind, Write};

use clap::CommandFactory;

use certwire::cli::{exit, Cli, Command, CompletionShell};
use certwire::error::OutputError;

fn main() {
    let cli = certwire::cli::parse();
    let result = match &cli.command {
        Command::Analyze(args) => certwire::run::analyze(args),
        Command::Node(args) => certwire::node::run(args),
        Command::Completions { shell } => print(|out| completions(*shell, out)),
        Command::Manpage => print(manpage),
    };
    let code = match result {
        Ok(code) => code,
        // `certwire analyze x.pcap | head` is not an error.
        Err(OutputError::Io(e)) if e.kind() == ErrorKind::BrokenPipe => exit::OK,
        Err(OutputError::Write { source, .. }) if source.kind() == ErrorKind::BrokenPipe => {
            exit::OK
        }
        Err(e) => {
            // Each variant's message already carries its cause: print it once.
            eprintln!("certwire: {}", anyhow::Error::from(e));
            exit::FAILURE
        }
    };
    report_peak_memory();
    std::process::exit(code);
}

/// Write to stdout with `write`: exit status 0, or the error (a closed pipe is not one).
fn print(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<i32, OutputError> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write(&mut out)?;
    out.flush()?;
    Ok(exit::OK)
}

/// `certwire completions SHELL`: clap_complete's script for that shell, from the same
/// definitions the parser uses.
fn completions(shell: CompletionShell, out: &mut dyn Write) -> std::io::Result<()> {
    use clap_complete::Shell;
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    clap_complete::generate(shell, &mut Cli::command(), "certwire", out);
    Ok(())
}

/// `certwire manpage`: one page, certwire(1): what certwire is, `certwire analyze`'s
/// synopsis and options (the command the page is for), the other commands, the exit
/// statuses. Rendered by clap_mangen from the parser's definitions.
fn manpage(out: &mut dyn Write) -> std::io::Result<()> {
    let mut cli = Cli::command();
    cli.build();
    let analyze = cli
        .find_subcommand("analyze")
        .cloned()
        .expect("the analyze command is defined");
    let page = clap_mangen::Man::new(cli.clone());
    let analyze = clap_mangen::Man::new(analyze);
    page.render_title(out)?;
    page.render_name_section(out)?;
    analyze.render_synopsis_section(out)?;
    analyze.render_description_section(out)?;
    analyze.render_options_section(out)?;
    // One page: the commands by name, not as pages of their own (certwire-analyze(1)).
    writeln!(out, ".SH COMMANDS")?;
    for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
        writeln!(out, ".TP\n\\fBcertwire {}\\fR", roff_text(sub.get_name()))?;
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(out, "{}", roff_text(&about))?;
    }
    writeln!(out, ".SH \"EXIT STATUS\"\n.nf")?;
    for line in certwire::cli::EXIT_STATUSES.lines().skip(1) {
        writeln!(out, "{}", roff_text(line))?;
    }
    writeln!(out, ".fi")?;
    page.render_version_section(out)?;
    Ok(())
}

/// Text for a roff line: backslashes and hyphens escaped, no control character first.
fn roff_text(s: &str) -> String {
    let t = s.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with(['.', '\'']) {
        format!("\\&{t}")
    } else {
        t
    }
}

/// `CERTWIRE_PEAK_RSS=1`: print this process's peak resident memory (VmHWM) on stderr at
/// exit, the figure the README's limits are measured with. Read from /proc rather than
/// getrusage by a parent, which counts the parent's memory when it spawned with vfork.
fn report_peak_memory() {
    if std::env::var_os("CERTWIRE_PEAK_RSS").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        eprintln!("certwire: peak RSS {}", line["VmHWM:".len()..].trim());
    }
}
