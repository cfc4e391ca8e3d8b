//! The test's machines: each declared machine's spec and, once launched, the
//! running machine; and the machine a step is on.

use indexmap::IndexMap;
use kennel_spec::{MachineSpec, TestFile};

use crate::running::RunningMachine;
use crate::steps::StepError;

/// A machine of the test: its spec and, once launched, the running machine.
pub(crate) struct Slot<'a> {
    /// The `[machine]` table.
    pub spec: &'a MachineSpec,
    /// The machine, once launched.
    pub vm: Option<Box<dyn RunningMachine>>,
}

/// The test's machines by name, in file order.
pub(crate) struct Slots<'a>(IndexMap<String, Slot<'a>>);

impl<'a> Slots<'a> {
    /// The machines `file` declares, none launched yet.
    pub fn of(file: &'a TestFile) -> Slots<'a> {
        Slots(
            file.machines
                .iter()
                .map(|m| (m.name.clone(), Slot { spec: m, vm: None }))
                .collect(),
        )
    }

    /// The names of the machines, in file order.
    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    /// The spec of machine `name`.
    pub fn spec(&self, name: &str) -> Result<&'a MachineSpec, StepError> {
        self.0
            .get(name)
            .map(|s| s.spec)
            .ok_or_else(|| StepError::unknown_machine(name))
    }

    /// Machine `name` if it has been launched (running or not).
    pub fn launched(
        &mut self,
        name: &str,
    ) -> Result<Option<&mut (dyn RunningMachine + 'static)>, StepError> {
        let slot = self
            .0
            .get_mut(name)
            .ok_or_else(|| StepError::unknown_machine(name))?;
        Ok(slot.vm.as_deref_mut())
    }

    /// Machine `name`, which must have been launched.
    pub fn machine(
        &mut self,
        name: &str,
    ) -> Result<&mut (dyn RunningMachine + 'static), StepError> {
        self.launched(name)?
            .ok_or_else(|| StepError::never_launched(name))
    }

    /// Machine `name` has been launched as `vm`.
    pub fn set(&mut self, name: &str, vm: Box<dyn RunningMachine>) {
        if let Some(slot) = self.0.get_mut(name) {
            slot.vm = Some(vm);
        }
    }

    /// Machine `name`, taken out of its slot (put it back with [`Slots::set`]).
    pub fn take(&mut self, name: &str) -> Option<Box<dyn RunningMachine>> {
        self.0.get_mut(name).and_then(|slot| slot.vm.take())
    }

    /// The launched machines, by name.
    pub fn launched_mut(
        &mut self,
    ) -> impl Iterator<Item = (&String, &mut Box<dyn RunningMachine>)> + use<'_, 'a> {
        self.0
            .iter_mut()
            .filter_map(|(name, slot)| slot.vm.as_mut().map(|vm| (name, vm)))
    }

    /// The launched machines, by name, read-only.
    pub fn launched_ref(
        &self,
    ) -> impl Iterator<Item = (&String, &dyn RunningMachine)> + use<'_, 'a> {
        self.0
            .iter()
            .filter_map(|(name, slot)| slot.vm.as_deref().map(|vm| (name, vm)))
    }
}

/// The machine a step is on, looked up when the step needs it (after its
/// values are rendered).
pub(crate) struct On<'s, 'a> {
    slots: &'s mut Slots<'a>,
    /// The machine's name.
    pub name: &'s str,
}

impl<'s, 'a> On<'s, 'a> {
    /// The machine `name` of `slots`.
    pub fn new(slots: &'s mut Slots<'a>, name: &'s str) -> On<'s, 'a> {
        On { slots, name }
    }

    /// The machine, which must have been launched.
    pub fn machine(&mut self) -> Result<&mut (dyn RunningMachine + 'static), StepError> {
        self.slots.machine(self.name)
    }

    /// The machine if it has been launched.
    pub fn launched(&mut self) -> Result<Option<&mut (dyn RunningMachine + 'static)>, StepError> {
        self.slots.launched(self.name)
    }
}
