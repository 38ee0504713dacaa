// Package ledger does chatbench's exactly-once accounting: every message a
// scenario sends gets a number, the sender records it as acknowledged (the
// server stored it) with the set of receivers that must get it, receivers
// record what they were pushed, and the ledger reports messages lost
// (acknowledged but missing at a receiver), duplicated (one message shown
// twice to one receiver) and delivered without an acknowledgement (the send
// failed or timed out on the sender's side yet the server stored it).
package ledger
