//! A writer for the "newc" cpio format, the one Linux unpacks as an
//! initramfs (`Documentation/driver-api/early-userspace/buffer-format.rst`).
//!
//! Each entry is a 110-byte ASCII header (magic `070701` and thirteen
//! 8-digit hex fields), the NUL-terminated name, padding to 4 bytes, the
//! data, padding to 4 bytes. The archive ends with an entry named
//! `TRAILER!!!`.

/// File type and permission bits of an entry.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// A regular file with these permission bits.
    File(u32),
    /// A directory with these permission bits.
    Dir(u32),
}

impl Mode {
    fn bits(self) -> u32 {
        match self {
            Mode::File(p) => 0o100_000 | (p & 0o7777),
            Mode::Dir(p) => 0o040_000 | (p & 0o7777),
        }
    }
}

/// An archive being built in memory.
#[derive(Default)]
pub struct Archive {
    out: Vec<u8>,
    next_ino: u32,
}

impl Archive {
    pub fn new() -> Self {
        Archive { out: Vec::new(), next_ino: 1 }
    }

    /// Adds a directory (`name` without a leading slash, e.g. `tmp`).
    pub fn dir(&mut self, name: &str, perm: u32) {
        self.entry(name, Mode::Dir(perm), &[]);
    }

    /// Adds a regular file.
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, Mode::File(perm), data);
    }

    fn entry(&mut self, name: &str, mode: Mode, data: &[u8]) {
        let ino = self.next_ino;
        self.next_ino += 1;
        let nlink = if matches!(mode, Mode::Dir(_)) { 2 } else { 1 };
        self.header(ino, mode.bits(), nlink, data.len(), name);
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn header(&mut self, ino: u32, mode: u32, nlink: u32, size: usize, name: &str) {
        let size = u32::try_from(size).expect("cpio newc: file larger than 4 GiB");
        let namesize = u32::try_from(name.len() + 1).expect("cpio newc: name too long");
        // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
        // rdevmajor, rdevminor, namesize, check
        let fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, namesize, 0];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    /// Ends the archive and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.header(0, 0, 1, 0, "TRAILER!!!");
        // The kernel reads the initramfs in 512-byte blocks' worth happily
        // either way; pad to a block as cpio(1) does.
        while !self.out.len().is_multiple_of(512) {
            self.out.push(0);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_matches_newc() {
        let mut a = Archive::new();
        a.file("init", 0o755, b"abc");
        let out = a.finish();
        assert_eq!(&out[..6], b"070701");
        // 110-byte header, "init\0" (5 bytes) padded to 116, data at 116.
        assert_eq!(&out[6..14], b"00000001"); // ino
        assert_eq!(&out[14..22], b"000081ed"); // regular file, 0755
        assert_eq!(&out[54..62], b"00000003"); // size
        assert_eq!(&out[94..102], b"00000005"); // namesize with NUL
        assert_eq!(&out[110..115], b"init\0");
        assert_eq!(&out[116..119], b"abc");
        let trailer = 120;
        assert_eq!(&out[trailer..trailer + 6], b"070701");
        assert_eq!(&out[trailer + 110..trailer + 121], b"TRAILER!!!\0");
        assert_eq!(out.len() % 512, 0);
    }
}
