//! What kennel reads from ELF files: the machine, the interpreter, the
//! libraries needed and where to look for them, notes, and named sections.

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::Endianness;

use crate::error::ElfError;

/// What kennel needs to know about one ELF file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ElfInfo {
    /// `e_machine`.
    pub machine: u16,
    /// ELFCLASS64?
    pub class64: bool,
    /// `PT_INTERP`, for dynamic executables.
    pub interp: Option<String>,
    /// `DT_NEEDED` names, in order.
    pub needed: Vec<String>,
    /// `DT_RUNPATH` entries.
    pub runpath: Vec<String>,
    /// `DT_RPATH` entries.
    pub rpath: Vec<String>,
}

/// A note in a `PT_NOTE` segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    pub name: Vec<u8>,
    pub n_type: u32,
}

fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

fn dispatch<'d, T>(
    data: &'d [u8],
    f64: impl FnOnce(&'d [u8]) -> object::read::Result<T>,
    f32: impl FnOnce(&'d [u8]) -> object::read::Result<T>,
) -> Result<T, ElfError> {
    if !is_elf(data) {
        return Err(ElfError::NoMagic);
    }
    let result = match data.get(4) {
        Some(2) => f64(data),
        Some(1) => f32(data),
        _ => return Err(ElfError::UnknownClass),
    };
    result.map_err(ElfError::Parse)
}

/// Reads machine, interpreter and dynamic dependencies.
pub(crate) fn inspect(data: &[u8]) -> Result<ElfInfo, ElfError> {
    dispatch(
        data,
        inspect_as::<elf::FileHeader64<Endianness>>,
        inspect_as::<elf::FileHeader32<Endianness>>,
    )
}

fn split_paths(s: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(s)
        .split(':')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn inspect_as<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> object::read::Result<ElfInfo> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let mut info = ElfInfo {
        machine: header.e_machine(endian).0,
        class64: header.is_type_64(),
        ..ElfInfo::default()
    };
    for segment in header.program_headers(endian, data)? {
        if let Some(interp) = segment.interpreter(endian, data)? {
            info.interp = Some(String::from_utf8_lossy(interp).into_owned());
        }
    }
    let sections = header.sections(endian, data)?;
    let table = sections.dynamic_table(endian, data)?;
    for d in &table {
        let tag = d.tag;
        if tag == elf::DT_NEEDED {
            info.needed
                .push(String::from_utf8_lossy(table.string(d)?).into_owned());
        } else if tag == elf::DT_RUNPATH {
            info.runpath.extend(split_paths(table.string(d)?));
        } else if tag == elf::DT_RPATH {
            info.rpath.extend(split_paths(table.string(d)?));
        }
    }
    Ok(info)
}

/// The notes of every `PT_NOTE` segment.
pub(crate) fn notes(data: &[u8]) -> Result<Vec<Note>, ElfError> {
    dispatch(
        data,
        notes_as::<elf::FileHeader64<Endianness>>,
        notes_as::<elf::FileHeader32<Endianness>>,
    )
}

fn notes_as<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> object::read::Result<Vec<Note>> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let mut out = Vec::new();
    for segment in header.program_headers(endian, data)? {
        if let Some(mut notes) = segment.notes(endian, data)? {
            while let Some(note) = notes.next()? {
                out.push(Note {
                    name: note.name().to_vec(),
                    n_type: note.n_type(endian).0,
                });
            }
        }
    }
    Ok(out)
}

/// The content of the section called `name`, if there is one.
pub(crate) fn section<'d>(data: &'d [u8], name: &str) -> Result<Option<&'d [u8]>, ElfError> {
    dispatch(
        data,
        |d| section_as::<elf::FileHeader64<Endianness>>(d, name),
        |d| section_as::<elf::FileHeader32<Endianness>>(d, name),
    )
}

fn section_as<'d, Elf: FileHeader<Endian = Endianness>>(
    data: &'d [u8],
    name: &str,
) -> object::read::Result<Option<&'d [u8]>> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    match sections.section_by_name(endian, name.as_bytes()) {
        Some((_, shdr)) => Ok(Some(shdr.data(endian, data)?)),
        None => Ok(None),
    }
}

/// A readable name for an ELF machine number.
pub(crate) fn machine_name(machine: u16) -> String {
    match machine {
        3 => "i386".to_owned(),
        8 => "mips".to_owned(),
        20 => "ppc".to_owned(),
        21 => "ppc64".to_owned(),
        40 => "arm".to_owned(),
        62 => "x86_64".to_owned(),
        183 => "aarch64".to_owned(),
        243 => "riscv".to_owned(),
        m => format!("ELF machine {m}"),
    }
}
