// Graceful interruption: SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 only set a flag (no I/O in the
// handler); long operations call throw_if_interrupted() at safe points and unwind, removing
// partial output, and the trainer stops at a step boundary with a checkpoint.
#pragma once

namespace poet {

void install_interrupt_handlers();
bool interrupted();
// The last signal received (SIGINT, SIGTERM, SIGUSR1 or SIGUSR2), or 0.
int interrupt_signal();
// Throws poet::Interrupted if a signal has arrived since the handlers were installed.
void throw_if_interrupted();

}  // namespace poet
