//! Warm starts: a machine configuration boots once into a template (its saved
//! state, in the cache), and every test starts from that state instead of
//! booting. See `docs/warm-starts.md`.

mod cloud;
mod key;
mod miss;
mod ram;
mod restore;
mod store;
mod template;

pub use key::TemplateKey;
pub use restore::TEMPLATE_CONSOLE_LOG;
pub use store::{warm_cache_size, TemplateEntry, WarmCache, WarmPurge, DEFAULT_WARM_CACHE_SIZE};

pub(crate) use key::cold_reason;
pub use miss::WarmError;
pub(crate) use restore::start;
pub(crate) use template::{Miss, Ready, Recipe};

/// How a machine started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// It booted.
    Cold,
    /// It was restored from template `template` (its id).
    Warm {
        /// The template's id.
        template: String,
    },
}

impl Start {
    /// `"warm"` or `"cold"`, as `results.json` records it.
    pub fn name(&self) -> &'static str {
        match self {
            Start::Cold => "cold",
            Start::Warm { .. } => "warm",
        }
    }

    /// Warm or cold, as results record it.
    pub fn kind(&self) -> kennel_results::StartKind {
        match self {
            Start::Cold => kennel_results::StartKind::Cold,
            Start::Warm { .. } => kennel_results::StartKind::Warm,
        }
    }

    /// The template's id, for a warm start.
    pub fn template(&self) -> Option<&str> {
        match self {
            Start::Cold => None,
            Start::Warm { template } => Some(template),
        }
    }
}
