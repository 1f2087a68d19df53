//! Lines that fit the terminal: the table renderer writes as it always did, and its
//! output passes through [`Fit`], which breaks every line longer than the width at a space
//! (or, for a long word such as a fingerprint or a path, inside it) and indents the rest
//! under the line's own indentation, so nothing is wider than the terminal and nothing is
//! cut: the full values stay readable (and whole in JSON).

use std::io::{self, Write};

/// The width to fit: `COLUMNS` when set (as shells and `less` do), else the terminal's,
/// when stdout is one; None otherwise (a pipe or a file keeps long lines whole).
pub fn terminal_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return Some(c.max(MIN_WIDTH));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return None;
    }
    tty_columns().map(|c| c.max(MIN_WIDTH))
}

/// Narrower than this, breaking lines helps nobody.
const MIN_WIDTH: usize = 40;

#[cfg(target_os = "linux")]
fn tty_columns() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills a winsize struct; stdout is a terminal (checked).
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

#[cfg(not(target_os = "linux"))]
fn tty_columns() -> Option<usize> {
    None
}

/// Break one line into lines of at most `width` characters.
pub fn fit_line(line: &str, width: usize) -> Vec<String> {
    if line.chars().count() <= width {
        return vec![line.to_string()];
    }
    let indent = line.chars().take_while(|c| *c == ' ').count();
    // Continuation lines sit a little deeper than the line they continue.
    let cont = (indent + 2).min(width / 2);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    let mut limit = width;
    for word in line[indent..].split(' ') {
        let wlen = word.chars().count();
        let start = if out.is_empty() { indent } else { cont };
        if cur_len == 0 {
            cur = " ".repeat(start);
            cur_len = start;
        } else if cur_len + 1 + wlen <= limit {
            cur.push(' ');
            cur_len += 1;
        } else {
            out.push(std::mem::take(&mut cur));
            limit = width;
            cur = " ".repeat(cont);
            cur_len = cont;
        }
        // A word longer than a whole line is split where it must be.
        let mut rest: Vec<char> = word.chars().collect();
        while cur_len + rest.len() > limit {
            let room = limit.saturating_sub(cur_len).max(1);
            cur.extend(rest.drain(..room.min(rest.len())));
            out.push(std::mem::take(&mut cur));
            cur = " ".repeat(cont);
            cur_len = cont;
        }
        cur_len += rest.len();
        cur.extend(rest);
    }
    if cur_len > 0 && !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// A writer that fits every line it passes to `width`.
pub struct Fit<'a> {
    out: &'a mut dyn Write,
    width: usize,
    pending: Vec<u8>,
}

impl<'a> Fit<'a> {
    pub fn new(out: &'a mut dyn Write, width: usize) -> Self {
        Fit {
            out,
            width,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, line: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        for l in fit_line(&text, self.width) {
            self.out.write_all(l.as_bytes())?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
}

impl Write for Fit<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            self.emit(&line[..line.len() - 1])?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line)?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_break_at_spaces_and_long_words_inside() {
        let line = format!(
            "    note   {} and then some more words here",
            "x".repeat(90)
        );
        let lines = fit_line(&line, 40);
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:#?}");
        let joined: String = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join("");
        assert_eq!(joined.replace(' ', ""), line.replace(' ', ""));
        assert!(lines[0].starts_with("    note"));
        assert!(lines[1].starts_with("      "));
        assert_eq!(fit_line("short", 40), vec!["short"]);
    }

    #[test]
    fn the_writer_fits_every_line() {
        let mut buf = Vec::new();
        {
            let mut f = Fit::new(&mut buf, 20);
            write!(
                f,
                "a b c d e f g h i j k l m n o p q r s t u v w x y z\nshort\n"
            )
            .unwrap();
            f.flush().unwrap();
        }
        let text = String::from_utf8(buf).unwrap();
        assert!(text.lines().all(|l| l.chars().count() <= 20), "{text}");
        assert!(text.ends_with("short\n"));
    }
}
