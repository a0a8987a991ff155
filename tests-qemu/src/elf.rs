//! Checks on the guest programs' ELF files: what `file` ("statically
//! linked") and `readelf --dyn-syms` (nothing imported) would say, read
//! straight from the headers.

/// Why a file is not a static, non-PIE executable without dynamic symbols.
pub fn check_static(data: &[u8]) -> Result<(), String> {
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| data.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    let u64_at = |o: usize| data.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    if data.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Err("not a little-endian 64-bit ELF file".into());
    }
    const ET_EXEC: u16 = 2;
    if u16_at(16) != Some(ET_EXEC) {
        return Err("not ET_EXEC (a PIE or a shared object): build with -C relocation-model=static".into());
    }
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return Err("truncated ELF header".into());
    };
    for i in 0..usize::from(phnum) {
        let at = phoff as usize + i * usize::from(phentsize);
        match u32_at(at).ok_or("truncated program headers")? {
            2 => return Err("has a PT_DYNAMIC segment: dynamically linked".into()),
            3 => return Err("has a PT_INTERP segment: needs a dynamic loader".into()),
            7 => return Err("has a PT_TLS segment: thread-local storage nothing sets up".into()),
            _ => {}
        }
    }
    let (shoff, shentsize, shnum) = (u64_at(40), u16_at(58), u16_at(60));
    let (Some(shoff), Some(shentsize), Some(shnum)) = (shoff, shentsize, shnum) else {
        return Err("truncated ELF header".into());
    };
    for i in 0..usize::from(shnum) {
        let at = shoff as usize + i * usize::from(shentsize);
        const SHT_DYNSYM: u32 = 11;
        if u32_at(at + 4).ok_or("truncated section headers")? == SHT_DYNSYM {
            return Err("has a .dynsym section: imports or exports dynamic symbols".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_itself_is_not_static() {
        // The host build of this runner is a dynamically linked PIE (or at
        // least not a goro image): the check must say so.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(check_static(&me).is_err());
        assert!(check_static(b"not elf").is_err());
    }
}
