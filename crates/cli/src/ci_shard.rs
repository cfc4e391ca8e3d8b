//! Which shard a CI runner is, from the CI's own variables, for `kennel run`
//! without `--shard`: GitLab's `parallel:` (`CI_NODE_INDEX` of
//! `CI_NODE_TOTAL`, 1-based) and Kubernetes Indexed Jobs
//! (`JOB_COMPLETION_INDEX`, 0-based, of `JOB_COMPLETIONS`, which the Job's
//! manifest sets to its `completions`: Kubernetes does not tell a pod the
//! count). GitHub's matrix has no such variables: its jobs pass `--shard`.

/// GitLab's 1-based index of this job among `parallel:` jobs.
pub const GITLAB_INDEX: &str = "CI_NODE_INDEX";
/// GitLab's number of `parallel:` jobs.
pub const GITLAB_TOTAL: &str = "CI_NODE_TOTAL";
/// Kubernetes' 0-based completion index of a pod of an Indexed Job.
pub const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
/// The Indexed Job's `completions`, set in its pod template's `env` (kennel's choice
/// of name; Kubernetes does not expose the count).
pub const K8S_TOTAL: &str = "JOB_COMPLETIONS";

/// The shard a CI's variables name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiShard {
    /// `K/N`, 1-based, as `--shard` takes it.
    pub spec: String,
    /// Where it came from, as a person reads it: `CI_NODE_INDEX=2 CI_NODE_TOTAL=3`.
    pub source: String,
}

/// A CI shard variable that does not say a shard.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CiShardError {
    /// The index is set and the count is not.
    #[error("{index}={value} is set but {total} is not: {fix} (or pass --shard K/N)")]
    NoTotal {
        /// The index variable.
        index: &'static str,
        /// Its value.
        value: String,
        /// The count variable.
        total: &'static str,
        /// How to set it.
        fix: &'static str,
    },
    /// A value that is not a number in range.
    #[error("{name}={value}: {expected} (or pass --shard K/N)")]
    Bad {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: String,
    },
}

/// The shard `var` (the environment, in `kennel run`) names, if any: GitLab's
/// variables first, then Kubernetes'.
pub fn from_ci(var: impl Fn(&str) -> Option<String>) -> Result<Option<CiShard>, CiShardError> {
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if let Some(index) = var(GITLAB_INDEX) {
        let total = var(GITLAB_TOTAL).ok_or_else(|| CiShardError::NoTotal {
            index: GITLAB_INDEX,
            value: index.clone(),
            total: GITLAB_TOTAL,
            fix: "GitLab sets both for a job with `parallel:`",
        })?;
        let n = number(GITLAB_TOTAL, &total, 1, "a count of at least 1")?;
        let k = number(
            GITLAB_INDEX,
            &index,
            1,
            &format!("1-based, from 1 to {GITLAB_TOTAL}={n}"),
        )?;
        return shard(
            k,
            n,
            format!("{GITLAB_INDEX}={k} {GITLAB_TOTAL}={n}"),
            GITLAB_INDEX,
            &index,
        );
    }
    if let Some(index) = var(K8S_INDEX) {
        let total = var(K8S_TOTAL).ok_or_else(|| CiShardError::NoTotal {
            index: K8S_INDEX,
            value: index.clone(),
            total: K8S_TOTAL,
            fix: "set it to the Job's `completions` in the pod template \
                  (`env: [{name: JOB_COMPLETIONS, value: \"N\"}]`)",
        })?;
        let n = number(K8S_TOTAL, &total, 1, "a count of at least 1")?;
        let i = number(
            K8S_INDEX,
            &index,
            0,
            &format!("0-based, from 0 to {K8S_TOTAL}={n} less one"),
        )?;
        return shard(
            i + 1,
            n,
            format!("{K8S_INDEX}={i} {K8S_TOTAL}={n}"),
            K8S_INDEX,
            &index,
        );
    }
    Ok(None)
}

/// Shard `k` of `n` (1-based), or the index variable's error when `k > n`.
fn shard(
    k: usize,
    n: usize,
    source: String,
    index: &'static str,
    value: &str,
) -> Result<Option<CiShard>, CiShardError> {
    if k > n {
        return Err(CiShardError::Bad {
            name: index,
            value: value.to_owned(),
            expected: format!("past the count ({source})"),
        });
    }
    Ok(Some(CiShard {
        spec: format!("{k}/{n}"),
        source,
    }))
}

/// `value` of variable `name` as a whole number of at least `least`.
fn number(
    name: &'static str,
    value: &str,
    least: usize,
    expected: &str,
) -> Result<usize, CiShardError> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|v| *v >= least)
        .ok_or_else(|| CiShardError::Bad {
            name,
            value: value.to_owned(),
            expected: format!("expected a whole number, {expected}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn gitlab_names_a_1_based_shard() {
        let shard = from_ci(env(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")]));

        assert_eq!(
            shard,
            Ok(Some(CiShard {
                spec: "2/3".into(),
                source: "CI_NODE_INDEX=2 CI_NODE_TOTAL=3".into()
            }))
        );
    }

    #[test]
    fn kubernetes_names_a_0_based_shard() {
        let shard = from_ci(env(&[
            ("JOB_COMPLETION_INDEX", "1"),
            ("JOB_COMPLETIONS", "3"),
        ]));

        assert_eq!(shard.map(|s| s.map(|s| s.spec)), Ok(Some("2/3".into())));
    }

    #[test]
    fn no_ci_variables_name_no_shard() {
        assert_eq!(from_ci(env(&[("CI_NODE_TOTAL", "1")])), Ok(None));
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        let past = from_ci(env(&[("CI_NODE_INDEX", "4"), ("CI_NODE_TOTAL", "3")]));
        let zero = from_ci(env(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "3")]));
        let word = from_ci(env(&[
            ("JOB_COMPLETION_INDEX", "x"),
            ("JOB_COMPLETIONS", "3"),
        ]));
        let k8s_past = from_ci(env(&[
            ("JOB_COMPLETION_INDEX", "3"),
            ("JOB_COMPLETIONS", "3"),
        ]));
        let no_count = from_ci(env(&[("JOB_COMPLETION_INDEX", "1")]));

        let text = |r: Result<Option<CiShard>, CiShardError>| r.expect_err("refused").to_string();
        assert!(text(past).starts_with("CI_NODE_INDEX=4: "));
        assert!(text(zero).starts_with("CI_NODE_INDEX=0: expected a whole number, 1-based"));
        assert!(text(word).starts_with("JOB_COMPLETION_INDEX=x: expected a whole number"));
        assert!(text(k8s_past).starts_with("JOB_COMPLETION_INDEX=3: "));
        let no_count = text(no_count);
        assert!(
            no_count.starts_with("JOB_COMPLETION_INDEX=1 is set but JOB_COMPLETIONS is not"),
            "{no_count}"
        );
    }
}
