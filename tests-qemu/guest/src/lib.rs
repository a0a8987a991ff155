//! Shared code of the freestanding guest programs (`/init`, `/echo`).
#![no_std]
// Failures carry a formatted message in a fixed buffer (there is no heap);
// they are rare and cheap enough to move.
#![allow(clippy::result_large_err)]

pub mod addr;
pub mod cases;
pub mod lo;
pub mod report;
