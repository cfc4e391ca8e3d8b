//! Every log a test may write, in the order readers show them.

use crate::{
    CMDLINE, CONSOLE_LOG, DMESG_TXT, QEMU_BACKTRACE_TXT, QEMU_LOG, QMP_LOG, REGISTERS_TXT,
    STDERR_LOG, STDOUT_LOG, TEST_LOG, TEST_PROCESS_LOG,
};

/// Which standard stream a log stands for, in JUnit's `system-out`/`system-err` terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Output: the test's log, stdout, the consoles.
    Out,
    /// Errors: stderr, the test process's own output, QEMU's output.
    Err,
    /// Neither: protocol transcripts and command lines.
    Other,
}

/// One log file of a test folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogFile {
    /// The file name in the test's folder.
    pub name: &'static str,
    /// Whether it is output or errors.
    pub stream: Stream,
    /// Not worth showing when empty (a process's stream that said nothing).
    pub hidden_when_empty: bool,
}

const fn log(name: &'static str, stream: Stream, hidden_when_empty: bool) -> LogFile {
    LogFile {
        name,
        stream,
        hidden_when_empty,
    }
}

/// Every log a test may write, in the order `report.html` shows them. A reader
/// that shows a test's logs shows these (the ones that exist).
/// The failure artifacts (`registers.txt`, `qemu-backtrace.txt`, `dmesg.txt`)
/// come last: they exist only when a test failed.
pub const LOGS: [LogFile; 11] = [
    log(TEST_LOG, Stream::Out, false),
    log(STDOUT_LOG, Stream::Out, true),
    log(STDERR_LOG, Stream::Err, true),
    log(CONSOLE_LOG, Stream::Out, false),
    log(QMP_LOG, Stream::Other, false),
    log(QEMU_LOG, Stream::Err, false),
    log(CMDLINE, Stream::Other, false),
    log(TEST_PROCESS_LOG, Stream::Err, true),
    log(REGISTERS_TXT, Stream::Other, true),
    log(QEMU_BACKTRACE_TXT, Stream::Other, true),
    log(DMESG_TXT, Stream::Other, true),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logs_of_executables_and_rust_tests_are_listed() {
        let names: Vec<&str> = LOGS.iter().map(|l| l.name).collect();

        assert!(names.contains(&"stderr.log"));
        assert!(names.contains(&"stdout.log"));
        assert_eq!(names[0], "test.log");
    }
}
