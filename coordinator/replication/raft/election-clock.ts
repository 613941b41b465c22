/**
 * How many Raft ticks a timer firing stands for. Normally one: a tick that comes late, because the event
 * loop was busy, counts once, since whatever the leader sent meanwhile is read before the timer fires
 * and a busy follower must not take a leader's unread heartbeats for its silence.
 *
 * With no leader to hear from (none known, or the leader's connection closed: its process died), nothing
 * unread can restart the election clock, so it runs on elapsed time: across a 10,000-pod failover on two
 * cores the followers' timers fired every 200-300 ms and a 1-2 s election timeout took 3-4 s. Only the
 * time since the last tick and the last message read counts (a message may have restarted the clock),
 * and at most an election timeout's worth at once, so the randomised rest still staggers the candidates.
 */
export function ticksDue(options: {
  readonly msSinceTick: number;
  readonly msSinceMessage: number;
  readonly tickMs: number;
  readonly electionTicks: number;
  /** No leader known, or the known leader's connection is down. */
  readonly leaderUnreachable: boolean;
}): number {
  if (!options.leaderUnreachable) return 1;
  const quietMs = Math.min(options.msSinceTick, options.msSinceMessage);
  return Math.max(1, Math.min(options.electionTicks, Math.floor(quietMs / options.tickMs)));
}
