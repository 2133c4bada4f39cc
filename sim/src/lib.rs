//! Runs the core under simulated time, network and disk (the simulator issue builds it).
