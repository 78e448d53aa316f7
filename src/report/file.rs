//! Report files: written to a temporary file beside the target path and renamed into
//! place only when the report is complete, so a crash never leaves half a report.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tempfile::NamedTempFile;

/// A report file: written to a temporary file beside it and renamed into place only
/// when the report is complete, so a crash never leaves half a report. Clones share
/// the one temporary file.
#[derive(Clone)]
pub struct ReportFile {
    path: PathBuf,
    temp: Arc<Mutex<Option<NamedTempFile>>>,
}

struct TempWriter(Arc<Mutex<Option<NamedTempFile>>>);

impl Write for TempWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self
            .0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .as_mut()
        {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self
            .0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .as_mut()
        {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl ReportFile {
    /// The file the report goes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Prepares the temporary file; the error is a sentence naming what to fix.
    pub fn create(path: &Path) -> Result<Self, String> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let cannot = |why: String| format!("cannot write report `{}`: {why}", path.display());
        if !dir.is_dir() {
            return Err(cannot(format!(
                "folder `{}` does not exist; create it first",
                dir.display()
            )));
        }
        if path.is_dir() {
            return Err(cannot("it is a folder; name a file in it".into()));
        }
        let temp = tempfile::Builder::new()
            .prefix(".ispec-report-")
            // As a plain `File::create` would (the umask applies), not the private 0600
            // of temporary files: CI archives reports for other users to read.
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| cannot(io::Error::from(e.kind()).to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
            temp: Arc::new(Mutex::new(Some(temp))),
        })
    }

    /// A writer into the temporary file, for a reporter.
    pub fn writer(&self) -> Box<dyn Write + Send> {
        // Reporters write in small pieces; one system call per piece would be slow.
        Box::new(io::BufWriter::new(TempWriter(Arc::clone(&self.temp))))
    }

    /// Removes the unfinished report (an interrupted run): nothing is left beside
    /// the report's path, and an earlier report there is left as it was.
    pub fn discard(&self) {
        if let Ok(mut temp) = self.temp.lock() {
            temp.take();
        }
    }

    /// Renames the finished report into place.
    pub fn commit(&self) -> io::Result<()> {
        let temp = self
            .temp
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .take();
        if let Some(temp) = temp {
            temp.persist(&self.path).map_err(|e| e.error)?;
        }
        Ok(())
    }
}
