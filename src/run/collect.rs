//! Where connection reports go as they are decided: past the filters (`--only`, `--role`,
//! `--host`), into the summary, then written at once when streaming (JSON Lines, the
//! table of a pipe or a live capture) or rendered into the spool, which keeps the document
//! in bounded memory until it is written in order. Grouping happens here for streams and
//! in the spool for documents.

use std::io::Write;
use std::sync::atomic::Ordering;

use crate::analyze::Analyzer;
use crate::cli::{AnalyzeArgs, Only};
use crate::error::OutputError;
use crate::export::{ExportId, Exporter};
use crate::model::{ConnectionReport, InputReport, Summary, Warning};
use crate::report::fit::Fit;
use crate::report::groups::{Groups, Placed};
use crate::report::spool::Spool;
use crate::report::{table, Format, Layout};

use super::sink::Sink;

/// Which connections are reported.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    only: Option<Only>,
    roles: Vec<String>,
    hosts: Vec<String>,
}

impl Filter {
    pub fn from_args(args: &AnalyzeArgs) -> Filter {
        Filter {
            only: args.only,
            roles: args.role.iter().map(|r| r.to_ascii_lowercase()).collect(),
            hosts: args.host.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.only.is_some() || !self.roles.is_empty() || !self.hosts.is_empty()
    }

    pub fn keep(&self, c: &ConnectionReport) -> bool {
        let verdict_ok = match self.only {
            None => true,
            Some(Only::Errors) => c.verdict.starts_with("ERROR"),
            Some(Only::Warnings) => {
                c.verdict.starts_with("ERROR") || c.verdict.starts_with("WARNING")
            }
            Some(Only::Unknown) => c.verdict != "OK",
        };
        let role_ok = self.roles.is_empty()
            || [c.role, c.server_role]
                .into_iter()
                .flatten()
                .filter_map(|r| serde_json::to_value(r).ok())
                .any(|v| {
                    v.as_str()
                        .is_some_and(|s| self.roles.iter().any(|r| r == s))
                });
        let host_ok = self.hosts.is_empty()
            || self.hosts.iter().any(|h| {
                [&c.client, &c.server]
                    .into_iter()
                    .any(|a| a.eq_ignore_ascii_case(h) || host_of(a) == h.trim_matches(['[', ']']))
                    || c.sni.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(h))
            });
        verdict_ok && role_ok && host_ok
    }

    /// "--only errors, --role kubelet-client": what was asked, for the notice.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(o) = self.only {
            parts.push(format!("--only {}", format!("{o:?}").to_ascii_lowercase()));
        }
        parts.extend(self.roles.iter().map(|r| format!("--role {r}")));
        parts.extend(self.hosts.iter().map(|h| format!("--host {h}")));
        parts.join(", ")
    }
}

/// "10.0.0.1" of "10.0.0.1:6443", "::1" of "[::1]:6443".
fn host_of(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_matches(['[', ']']).to_ascii_lowercase()
}

/// A document's connections: the spool, the summary, the first error, and how many the
/// filters left out. Shared by the readers of several files (behind a mutex).
pub struct Doc {
    pub spool: Spool,
    pub summary: Summary,
    pub error: Option<OutputError>,
    pub filtered_out: u64,
    /// `--export-certs`: the certificates of each connection reported go there.
    pub export: Option<Exporter>,
}

impl Doc {
    pub fn new(format: Format, layout: Layout) -> Doc {
        Doc {
            spool: Spool::new(format, layout),
            summary: Summary::default(),
            error: None,
            filtered_out: 0,
            export: None,
        }
    }

    /// A connection from the input at command-line position `input`.
    pub fn add(&mut self, input: usize, mut c: ConnectionReport, filter: &Filter) {
        if !filter.keep(&c) {
            self.filtered_out += 1;
            return;
        }
        self.summary.add(&c);
        if let (None, Some(x)) = (&self.error, &self.export) {
            // Its id is known once every connection is in: named by arrival until then.
            if let Err(e) = x.connection(&c, ExportId::Pending(self.spool.next_seq())) {
                self.error = Some(e);
            }
        }
        if self.error.is_none() {
            if let Err(e) = self.spool.add(input, &mut c) {
                self.error = Some(e);
            }
        }
    }
}

pub struct Collector<'a> {
    /// The output, with the JSON Lines connection records' writer.
    pub out: &'a mut Sink,
    pub format: Format,
    pub streaming: bool,
    pub layout: Layout,
    pub doc: Doc,
    pub filter: Filter,
    /// Command-line position of the input being read.
    pub input: usize,
    /// Streaming: ids are given as connections come, and groups are made here.
    next_id: usize,
    pub groups: Groups,
    /// `analyze --live --metrics-listen`: every connection the analyzer reports is
    /// counted there, whatever the filters leave out of the report.
    pub metrics: Option<crate::metrics::Metrics>,
}

impl<'a> Collector<'a> {
    pub fn new(
        out: &'a mut Sink,
        format: Format,
        streaming: bool,
        layout: Layout,
        filter: Filter,
    ) -> Self {
        Collector {
            out,
            format,
            streaming,
            layout,
            doc: Doc::new(format, layout),
            filter,
            input: 0,
            next_id: 0,
            groups: Groups::default(),
            metrics: None,
        }
    }

    pub fn add(&mut self, mut c: ConnectionReport) {
        if let Some(m) = &self.metrics {
            m.connection(&c);
        }
        if !self.streaming {
            return self.doc.add(self.input, c, &self.filter);
        }
        if !self.filter.keep(&c) {
            self.doc.filtered_out += 1;
            return;
        }
        self.doc.summary.add(&c);
        if self.doc.error.is_some() {
            return;
        }
        self.next_id += 1;
        c.id = self.next_id;
        if let Some(x) = &self.doc.export {
            if let Err(e) = x.connection(&c, ExportId::Final(c.id)) {
                self.doc.error = Some(e);
                return;
            }
        }
        let placed = if self.layout.grouped {
            self.groups.add(&c)
        } else {
            Placed::Alone
        };
        if let Some(g) = placed.group() {
            self.groups.add_id(g, c.id);
        }
        if let Err(e) = self.write(&c, placed) {
            self.doc.error = Some(e);
        }
    }

    fn write(&mut self, c: &ConnectionReport, placed: Placed) -> Result<(), OutputError> {
        if self.layout.summary_only {
            return Ok(());
        }
        if self.format == Format::Jsonl {
            return self.out.connection(c);
        }
        let mut fitted;
        let out: &mut dyn Write = match self.layout.width {
            Some(w) => {
                fitted = Fit::new(&mut *self.out, w);
                &mut fitted
            }
            None => &mut *self.out,
        };
        match placed {
            Placed::Repeat(g) => {
                let g = self.groups.get(g).expect("a placed group exists");
                table::write_repeat(c, g, out)?;
            }
            _ => table::write_connection(c, &self.layout, out)?,
        }
        out.flush()?;
        Ok(())
    }
}

/// An input read: its report and its warnings.
pub type InputDone = (InputReport, Vec<Warning>);

/// Analyze `inputs` with up to `threads` analyzers side by side, each connection into the
/// shared document (whose spool orders it whatever the order of arrival); input reports
/// and warnings in input order.
pub fn analyze_parallel(
    base: &Analyzer,
    inputs: &[String],
    threads: usize,
    shared: &std::sync::Mutex<Doc>,
    filter: &Filter,
) -> Vec<InputDone> {
    let threads = threads.clamp(1, inputs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<InputDone>>> =
        std::sync::Mutex::new(inputs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut analyzer = base.fork();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(path) = inputs.get(i) else { break };
                    let report = analyzer.analyze_input(path, &mut |c| {
                        let mut doc = shared.lock().unwrap_or_else(|e| e.into_inner());
                        doc.add(i, c, filter);
                    });
                    let warnings = std::mem::take(&mut analyzer.warnings);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some((report, warnings));
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_with_or_without_port_and_brackets() {
        assert_eq!(host_of("10.0.0.1:6443"), "10.0.0.1");
        assert_eq!(host_of("[::1]:6443"), "::1");
    }
}
