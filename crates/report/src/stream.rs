//! A job's tests as the end-of-job files read them: one at a time, in job order,
//! from memory or from a spool file, so that writing the files of a job of ten
//! thousand tests never holds its results in memory.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use kennel_runner::TestResult;
use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};

use kennel_results::ResultsFile;

use crate::ReportError;

/// The tests of a job, in job order.
pub(crate) enum Tests<'a> {
    /// Held in memory (a merge, a job without a journal).
    Memory(&'a [TestResult]),
    /// One JSON line each in a spool file ([`Spool`]).
    Spool(&'a Spool),
}

impl Tests<'_> {
    /// How many.
    pub(crate) fn len(&self) -> usize {
        match self {
            Tests::Memory(t) => t.len(),
            Tests::Spool(s) => s.len,
        }
    }

    /// Hand each test and its index to `each`, in job order; stops at the first error.
    pub(crate) fn each(
        &self,
        each: &mut dyn FnMut(usize, &TestResult) -> Result<(), ReportError>,
    ) -> Result<(), ReportError> {
        match self {
            Tests::Memory(tests) => tests.iter().enumerate().try_for_each(|(i, t)| each(i, t)),
            Tests::Spool(spool) => spool.each(each),
        }
    }
}

/// The tests of a job written out as JSON lines to an unnamed file (created in the
/// job folder and unlinked at once: nothing is left behind), read back as often as
/// the end-of-job files need.
pub(crate) struct Spool {
    file: File,
    len: usize,
}

impl Spool {
    /// A spool in `dir` filled by `fill`, which is handed a function that appends
    /// one test; with what `fill` returned.
    pub(crate) fn create<R>(
        dir: &Path,
        fill: impl FnOnce(&mut dyn FnMut(TestResult)) -> R,
    ) -> std::io::Result<(Spool, R)> {
        let path = dir.join(format!(".spool-{}.jsonl", std::process::id()));
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        let _ = std::fs::remove_file(&path);
        let mut out = BufWriter::new(&file);
        let mut len = 0;
        let mut failed: Option<std::io::Error> = None;
        let filled = fill(&mut |t: TestResult| {
            if failed.is_some() {
                return;
            }
            let written = serde_json::to_writer(&mut out, &t)
                .map_err(std::io::Error::other)
                .and_then(|()| out.write_all(b"\n"));
            match written {
                Ok(()) => len += 1,
                Err(e) => failed = Some(e),
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        out.flush()?;
        drop(out);
        Ok((Spool { file, len }, filled))
    }

    fn each(
        &self,
        each: &mut dyn FnMut(usize, &TestResult) -> Result<(), ReportError>,
    ) -> Result<(), ReportError> {
        let read_err = |e: std::io::Error| ReportError::Write {
            path: Path::new("(the results spool)").to_path_buf(),
            source: e,
        };
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0)).map_err(read_err)?;
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        for i in 0..self.len {
            line.clear();
            reader.read_until(b'\n', &mut line).map_err(read_err)?;
            let t: TestResult =
                serde_json::from_slice(&line).map_err(|e| read_err(std::io::Error::other(e)))?;
            each(i, &t)?;
        }
        Ok(())
    }
}

/// `results.json`: `file`'s fields (its `tests` unused) with `tests` streamed, in
/// the layout of [`ResultsFile`].
pub(crate) fn write_results_json(
    file: &ResultsFile,
    tests: &Tests<'_>,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    struct Each<'a>(&'a Tests<'a>);
    impl Serialize for Each<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.0.len()))?;
            let mut failed = None;
            let read = self.0.each(&mut |_, t| {
                if failed.is_none() {
                    failed = seq.serialize_element(t).err();
                }
                Ok(())
            });
            if let Some(e) = failed {
                return Err(e);
            }
            read.map_err(|e| S::Error::custom(kennel_runner::error_chain(&e)))?;
            seq.end()
        }
    }
    let streamed = file.with_tests(Each(tests));
    serde_json::to_writer_pretty(out, &streamed).map_err(ReportError::Json)
}
