//! The console channel. (Being written.)
