//! The variables a step's `${...}` sees, built in one place ([`StepVars::of`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use kennel_spec::{Value, Vars};

use crate::context::Context;

/// The variables saved by earlier steps (`save`), by name.
pub(crate) type Saved = HashMap<String, Value>;

/// Variables visible to a step: saved values, parameters, builtins.
pub(crate) struct StepVars<'a> {
    saved: &'a Saved,
    params: &'a IndexMap<String, Value>,
    tmp: &'a Path,
    dir: &'a Path,
    /// Verified asset files by asset name.
    assets: &'a HashMap<String, PathBuf>,
    /// The built-in guest's kernel and initramfs, when the test uses them.
    guest: Option<&'a (PathBuf, PathBuf)>,
}

impl<'a> StepVars<'a> {
    /// The variables of the case `ctx` after the steps that saved `saved`.
    pub fn of(ctx: &'a Context<'_>, saved: &'a Saved) -> StepVars<'a> {
        StepVars {
            saved,
            params: ctx.params,
            tmp: &ctx.tmp,
            dir: &ctx.file.dir,
            assets: &ctx.assets,
            guest: ctx.guest_files.as_ref(),
        }
    }
}

impl Vars for StepVars<'_> {
    fn get(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.saved.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.params.get(name) {
            return Some(v.clone());
        }
        if let Some(asset) = name.strip_prefix("asset:") {
            return self
                .assets
                .get(asset)
                .map(|p| Value::String(p.to_string_lossy().into_owned()));
        }
        if let Some((kernel, initrd)) = self.guest {
            match name {
                "guest_kernel" => {
                    return Some(Value::String(kernel.to_string_lossy().into_owned()))
                }
                "guest_initrd" => {
                    return Some(Value::String(initrd.to_string_lossy().into_owned()))
                }
                _ => {}
            }
        }
        match name {
            "tmp" => Some(Value::String(self.tmp.to_string_lossy().into_owned())),
            "dir" => Some(Value::String(self.dir.to_string_lossy().into_owned())),
            _ => None,
        }
    }
}
