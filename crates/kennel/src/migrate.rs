//! [`Vm::migrate_to`] and [`Vm::migrate_into`]: migration in one call, the
//! machine core's one migration (the `migrate` step of a test file runs the
//! same code).

use crate::error::{ErrorKind, Result};
use crate::{MachineBuilder, Vm};
use kennel_vm::{Migrated, Migration};

impl Vm {
    /// Migrate this machine into `dest`, a machine made with the same builder
    /// calls plus `.incoming("defer")` (it waits for the migration; see
    /// [`Vm::migrate_into`] to have it started for you). Capabilities and
    /// parameters are set on both sides as `migration` says, the stream goes
    /// through a UNIX socket in the test's private folder by default, and the
    /// call returns once the migration completed, this machine is paused
    /// (`postmigrate`), `dest` runs and, for a guest with a command channel,
    /// the channel answered on `dest` ([`Vm::run`] on `dest` goes on where it
    /// left off here). A migration still running at the test's deadline is
    /// cancelled; a failed one's error carries QEMU's `error-desc`; two
    /// machines described differently are refused before anything starts.
    ///
    /// ```no_run
    /// # use kennel::prelude::*;
    /// # fn f(t: &mut Test) -> kennel::Result<()> {
    /// let mut a = t.machine().name("a").guest_busybox().launch()?;
    /// a.run_ok("echo hello > /tmp/mark")?;
    /// let mut b = t.machine().name("b").guest_busybox().incoming("defer").launch()?;
    /// a.migrate_to(&mut b, &Migration::new())?;
    /// assert_eq!(b.run_ok("cat /tmp/mark")?.trim(), "hello");
    /// # Ok(()) }
    /// ```
    pub fn migrate_to(&mut self, dest: &mut Vm, migration: &Migration) -> Result<Migrated> {
        self.log_line(&format!(
            "migrate to `{}` over {}",
            dest.name,
            migration.transport.name()
        ));
        let deadline = self.deadline.min(dest.deadline);
        let scratch = self.scratch.clone();
        let r = self
            .inner
            .migrate_to(&mut dest.inner, migration, &scratch, deadline)
            .map_err(|source| {
                ErrorKind::Migrate {
                    from: self.name.clone(),
                    to: dest.name.clone(),
                    source,
                }
                .into()
            });
        let r = dest.noted(r);
        self.noted(r)
    }

    /// Start the machine `builder` describes as this one's migration
    /// destination (`-incoming defer`) and migrate into it
    /// ([`Vm::migrate_to`]): the destination, running this machine's guest.
    pub fn migrate_into(&mut self, builder: MachineBuilder, migration: &Migration) -> Result<Vm> {
        let mut dest = builder.incoming("defer").launch()?;
        self.migrate_to(&mut dest, migration)?;
        Ok(dest)
    }
}
