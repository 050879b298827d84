//! Reading what a program writes, within fixed limits: protocol lines, stdout and stderr, and
//! the files it leaves in its working directory.

use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::ChildStdout;

/// The note that ends output cut at [`OUTPUT_LIMIT`].
pub(crate) fn dropped_note(channel: &str, dropped: u64) -> String {
    format!(
        "\n[credsim: {channel} kept up to {} MiB; {dropped} more bytes were read and dropped]\n",
        OUTPUT_LIMIT >> 20
    )
}

/// Everything on `pipe` up to [`OUTPUT_LIMIT`] bytes; the rest is read (so the program never
/// blocks on a full pipe) and dropped, and a note saying so ends what was kept.
pub(crate) async fn read_capped(
    mut pipe: impl tokio::io::AsyncRead + Unpin,
    name: &str,
) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut dropped = 0u64;
    let mut buf = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = OUTPUT_LIMIT.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(&buf[..room]);
        dropped += (n - room) as u64;
    }
    if dropped > 0 {
        kept.extend_from_slice(dropped_note(name, dropped).as_bytes());
    }
    kept
}

/// How much of each file an implementation left is read for the leak search.
pub const FILE_READ_LIMIT: usize = 16 << 20;

/// How much of all the files one shard's implementation left is read, in bytes and in files.
pub const FILES_READ_LIMIT: (usize, usize) = (128 << 20, 10_000);

/// The budget for reading what one shard's implementation left behind.
pub fn file_budget() -> crate::sandbox::FileBudget {
    crate::sandbox::FileBudget::new(FILE_READ_LIMIT, FILES_READ_LIMIT.0, FILES_READ_LIMIT.1)
}

/// How much of an implementation's stderr, and of what it prints on stdout that is not protocol,
/// is kept (and searched) per process; the rest is read and dropped, with a note.
pub const OUTPUT_LIMIT: usize = 8 << 20;

/// The longest protocol line read from an implementation; a longer one is a protocol violation,
/// found without holding more than this in memory.
pub const LINE_LIMIT: usize = 16 << 20;

/// One line of an implementation's stdout.
pub(crate) enum Line {
    Text(String),
    /// Longer than the limit: its first 200 bytes, for the error. In the drain at shutdown, the
    /// rest of such a line comes as further lines; it is dropped like any output past the limit.
    TooLong(String),
    End,
}

/// The next line of `r` (without its newline), holding at most `limit` bytes; a longer line is
/// [`Line::TooLong`] as soon as it passes the limit.
pub(crate) async fn read_line(
    r: &mut BufReader<ChildStdout>,
    limit: usize,
) -> std::io::Result<Line> {
    let mut line: Vec<u8> = Vec::new();
    let mut too_long = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            if line.is_empty() {
                return Ok(Line::End);
            }
            break;
        }
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if line.len() + chunk.len() > limit {
            // The protocol is broken already: say so now, without waiting for the line's end.
            too_long = true;
            let keep = 200usize.saturating_sub(line.len()).min(chunk.len());
            line.extend_from_slice(&chunk[..keep]);
            line.truncate(200);
            let used = done.unwrap_or(buf.len());
            r.consume(used);
            break;
        }
        line.extend_from_slice(chunk);
        let used = done.unwrap_or(buf.len());
        r.consume(used);
        if done.is_some() {
            break;
        }
    }
    let text = String::from_utf8_lossy(&line).into_owned();
    Ok(if too_long {
        Line::TooLong(text)
    } else {
        Line::Text(text)
    })
}

/// Files an implementation left in `dir` (recursively, within `budget`), for the leak search:
/// `(path relative to dir, content)`.
pub fn files_written(dir: &Path, budget: &mut crate::sandbox::FileBudget) -> Vec<(String, String)> {
    crate::sandbox::read_tree(dir, "its working directory", budget)
}
