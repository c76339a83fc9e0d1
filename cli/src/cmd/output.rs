//! Writing output files without ever losing or replacing what a user has.
//!
//! Every path option (`--trace`, `--chrome-trace`, `--out`) goes through
//! [`write_output`]:
//! - `-` is standard output;
//! - a path that already exists and is not a regular file (a device such as
//!   `/dev/null`, a FIFO, a socket), or that is a symlink, is opened and
//!   written through: dynsim never replaces what it did not create;
//! - a regular file or a new path is written to a temporary file beside it,
//!   which is then renamed over it, so a reader never sees half a file and a
//!   failed write leaves the old file as it was.
//!
//! A closed pipe on the other end (`dynsim run F --trace - | head -1`) is not
//! an error a user can act on: [`is_broken_pipe`] lets callers end quietly.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The path that means standard output.
pub const STDOUT: &str = "-";

/// Where [`write_output`] would send bytes for `path`.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// `-`.
    Stdout,
    /// Something that exists and is not ours to replace: a symlink, a
    /// device, a FIFO or a socket. It is opened and written through.
    Through,
    /// A regular file or a path that does not exist yet: temporary file
    /// plus rename.
    Replace,
}

/// How `path` will be written.
pub fn target(path: &Path) -> Target {
    if path.as_os_str() == STDOUT {
        return Target::Stdout;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() || !m.is_file() && !m.is_dir() => Target::Through,
        _ => Target::Replace,
    }
}

/// Checks, before any work is spent, that [`write_output`] can write `path`:
/// a new or regular file needs an existing directory to live in.
pub fn check(path: &Path) -> io::Result<()> {
    if target(path) != Target::Replace {
        return Ok(());
    }
    let dir = folder_of(path)?;
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("the directory {} does not exist", dir.display()),
        ));
    }
    if std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        // A file this user may not write is refused now, not after the run.
        OpenOptions::new().write(true).open(path)?;
    }
    Ok(())
}

/// Writes `path` with what `fill` writes, as the module documentation says.
pub fn write_output(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = OutputFile::open(path)?;
    fill(&mut out)?;
    out.commit()
}

/// An output being written, as the module documentation says: standard
/// output, something written through, or a temporary file that becomes the
/// named file only at [`OutputFile::commit`] (and is removed if the output
/// is dropped without it). It can stay open while a run streams into it.
#[derive(Debug)]
pub struct OutputFile {
    out: io::BufWriter<Dest>,
    /// For a replaced regular file: (temporary file, final path).
    rename: Option<(PathBuf, PathBuf)>,
}

impl OutputFile {
    /// Opens `path` for writing.
    pub fn open(path: &Path) -> io::Result<OutputFile> {
        let (w, rename) = match target(path) {
            Target::Stdout => (Dest::Stdout(io::stdout()), None),
            // Truncate a symlinked regular file as a rename would have
            // replaced it; a device or FIFO ignores truncation.
            Target::Through => (
                Dest::File(OpenOptions::new().write(true).truncate(true).open(path)?),
                None,
            ),
            Target::Replace => {
                let (file, tmp) = temporary_beside(path)?;
                (Dest::File(file), Some((tmp, path.to_path_buf())))
            }
        };
        Ok(OutputFile {
            out: io::BufWriter::with_capacity(1 << 16, w),
            rename,
        })
    }

    /// Finishes the output: flushes it and, for a regular file, syncs the
    /// temporary file and renames it over the named one.
    pub fn commit(mut self) -> io::Result<()> {
        self.out.flush()?;
        if let Some((tmp, path)) = self.rename.take() {
            // The file is closed before the rename (some systems refuse to
            // rename an open file).
            let out = std::mem::replace(&mut self.out, io::BufWriter::new(Dest::Closed));
            let result = match out.into_inner().map_err(io::IntoInnerError::into_error) {
                Ok(Dest::File(f)) => f.sync_all(),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
            .and_then(|()| std::fs::rename(&tmp, &path));
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            return result;
        }
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        // Never committed: the named file stays as it was.
        if let Some((tmp, _)) = self.rename.take() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// The folder a regular output file goes in; an error if `path` is itself a folder.
fn folder_of(path: &Path) -> io::Result<&Path> {
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory; name a file",
        ));
    }
    Ok(path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new(".")))
}

/// Creates the temporary file that will replace the regular file `path`.
fn temporary_beside(path: &Path) -> io::Result<(File, PathBuf)> {
    let dir = folder_of(path)?;
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the output path names no file")
    })?;
    // A file that is already there keeps what its owner gave it: it is
    // replaced only if this user may write it (a 0444 file is refused, as a
    // shell's `>` would refuse it), and the new one gets its permissions and,
    // where this user may give it away, its owner and group.
    let existing = std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file);
    if existing.is_some() {
        OpenOptions::new().write(true).open(path)?;
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let made = (|| {
        let file = File::create(&tmp)?;
        if let Some(meta) = &existing {
            file.set_permissions(meta.permissions())?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                // Only a privileged user can give a file away; otherwise the
                // permissions copied above already keep it as private as it was.
                let _ = std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()));
            }
        }
        Ok(file)
    })();
    match made {
        Ok(file) => Ok((file, tmp)),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Where an [`OutputFile`]'s bytes go.
#[derive(Debug)]
enum Dest {
    Stdout(io::Stdout),
    File(File),
    /// After a commit took the file.
    Closed,
}

impl Write for Dest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Dest::Stdout(o) => o.write(buf),
            Dest::File(f) => f.write(buf),
            Dest::Closed => Err(io::Error::other("the output is closed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Dest::Stdout(o) => o.flush(),
            Dest::File(f) => f.flush(),
            Dest::Closed => Ok(()),
        }
    }
}

/// Prints `text` on standard output. A closed pipe ends the output quietly
/// (`print!` would panic); other errors are reported on standard error.
pub fn print(text: &str) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if !is_broken_pipe(&e) {
            eprintln!("error: cannot write to standard output: {e}");
            STDOUT_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Set when standard output refused what [`print()`] wrote (a full disk, not a
/// closed pipe), so that the process does not exit as if all went well.
static STDOUT_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a [`print()`] failed for any reason but a closed pipe.
pub fn stdout_failed() -> bool {
    STDOUT_FAILED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Set when standard error refused a write (see [`write_stderr`]).
static STDERR_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes to standard error (what the crate's `eprintln!` and `eprint!`
/// do): a write that fails is recorded, never a panic.
pub fn write_stderr(args: std::fmt::Arguments<'_>, newline: bool) {
    let mut e = io::stderr().lock();
    let wrote = e
        .write_fmt(args)
        .and_then(|()| if newline { e.write_all(b"\n") } else { Ok(()) })
        .and_then(|()| e.flush());
    if wrote.is_err() {
        STDERR_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether a write to standard error failed.
pub fn stderr_failed() -> bool {
    STDERR_FAILED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether an error is the reader of our output going away (a closed pipe).
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("dynsim-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    }

    // `-`, devices, symlinks and regular files are told apart.
    #[test]
    fn targets() {
        assert_eq!(target(Path::new("-")), Target::Stdout);
        assert_eq!(target(Path::new("/dev/null")), Target::Through);
        let d = scratch("targets");
        let f = d.join("f");
        assert_eq!(target(&f), Target::Replace);
        std::fs::write(&f, "x").expect("write");
        assert_eq!(target(&f), Target::Replace);
        #[cfg(unix)]
        {
            let l = d.join("l");
            std::os::unix::fs::symlink(&f, &l).expect("symlink");
            assert_eq!(target(&l), Target::Through);
        }
    }

    // A symlink stays a symlink and its target gets the bytes; a regular file is replaced whole.
    #[cfg(unix)]
    #[test]
    fn writes_through_a_symlink_and_replaces_a_file() {
        let d = scratch("through");
        let f = d.join("real.txt");
        std::fs::write(&f, "old contents that are longer").expect("write");
        let l = d.join("link.txt");
        std::os::unix::fs::symlink(&f, &l).expect("symlink");
        write_output(&l, |w| w.write_all(b"new")).expect("write through");
        assert!(
            std::fs::symlink_metadata(&l)
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&f).expect("read"), "new");
        write_output(&f, |w| w.write_all(b"again")).expect("replace");
        assert_eq!(std::fs::read_to_string(&f).expect("read"), "again");
        let leftovers: Vec<_> = std::fs::read_dir(&d)
            .expect("list")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    // A failed write leaves the old file untouched.
    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let d = scratch("failed");
        let f = d.join("keep.txt");
        std::fs::write(&f, "precious").expect("write");
        let r = write_output(&f, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk on fire"))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&f).expect("read"), "precious");
    }

    // Replacing a regular file keeps its permissions: a private 0600 file
    // stays private (it once came back 0644, world-readable), and a 0444 file
    // is refused unless this user may write it anyway (root may, as with `>`),
    // in which case it stays 0444.
    #[cfg(unix)]
    #[test]
    fn an_existing_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let d = scratch("perms");
        let private = d.join("private.txt");
        std::fs::write(&private, "old").expect("write");
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        write_output(&private, |w| w.write_all(b"new")).expect("replaced");
        assert_eq!(std::fs::read_to_string(&private).expect("read"), "new");
        let mode = std::fs::metadata(&private)
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let locked = d.join("locked.txt");
        std::fs::write(&locked, "old").expect("write");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        let privileged = OpenOptions::new().write(true).open(&locked).is_ok();
        let r = write_output(&locked, |w| w.write_all(b"new"));
        if privileged {
            r.expect("this user may write it");
            let mode = std::fs::metadata(&locked)
                .expect("stat")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o444);
        } else {
            let e = r.expect_err("refused");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
            assert_eq!(std::fs::read_to_string(&locked).expect("read"), "old");
        }
    }
}
