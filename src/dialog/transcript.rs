//! Conversation tests. (Being written.)
