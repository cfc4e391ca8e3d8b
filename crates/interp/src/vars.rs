use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;
use kennel_spec::{Value, Vars};

/// Variables visible to a step: saved values, parameters, builtins.
pub(crate) struct StepVars<'a> {
    pub saved: &'a HashMap<String, Value>,
    pub params: &'a IndexMap<String, Value>,
    pub tmp: &'a Path,
    pub dir: &'a Path,
    /// Verified asset files by asset name.
    pub assets: &'a HashMap<String, std::path::PathBuf>,
    /// The built-in guest's kernel and initramfs, when the test uses them.
    pub guest: Option<&'a (std::path::PathBuf, std::path::PathBuf)>,
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
