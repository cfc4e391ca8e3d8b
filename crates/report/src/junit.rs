use kennel_runner::Status;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::results_dir::ResultsFile;
use crate::ReportError;

/// `junit.xml` for GitLab, Jenkins and friends: one suite per test file.
pub(crate) fn render(file: &ResultsFile) -> Result<Vec<u8>, ReportError> {
    let mut report = Report::new(format!("kennel job {}", file.job_id));
    let mut suites: indexmap::IndexMap<String, TestSuite> = indexmap::IndexMap::new();
    for t in &file.tests {
        let suite_name = t.file.display().to_string();
        let suite = suites
            .entry(suite_name.clone())
            .or_insert_with(|| TestSuite::new(suite_name));
        let status = match t.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Skip => {
                let mut s = TestCaseStatus::skipped();
                if let Some(r) = &t.reason {
                    s.set_message(r.clone());
                }
                s
            }
            Status::Fail | Status::Error | Status::Interrupted => {
                let kind = if t.status == Status::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_message(format!(
                    "{}: {}",
                    t.status,
                    t.reason.as_deref().unwrap_or("")
                ));
                s.set_type(t.status.as_str());
                s.set_description(format!(
                    "{}\nlogs: {}",
                    t.detail.as_deref().or(t.reason.as_deref()).unwrap_or(""),
                    t.logdir.display()
                ));
                s
            }
        };
        let mut case = TestCase::new(t.name.clone(), status);
        case.set_time(std::time::Duration::from_secs_f64(t.duration_s.max(0.0)));
        case.set_classname(t.file.display().to_string());
        suite.add_test_case(case);
    }
    report.add_test_suites(suites.into_values());
    report
        .to_string()
        .map(String::into_bytes)
        .map_err(ReportError::Junit)
}
