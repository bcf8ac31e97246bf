using System.Collections.Concurrent;
using System.Diagnostics;

namespace TimeoutBudget.Tests.Soak;

/// <summary>What one soak run does.</summary>
/// <param name="Budgets">Budgets to open (and dispose) in total, over all workers.</param>
/// <param name="Workers">Concurrent async flows.</param>
/// <param name="SampleEvery">How often memory and live timers are sampled (each sample forces a full collection).</param>
public sealed record SoakSettings(long Budgets, int Workers, TimeSpan SampleEvery);

/// <summary>One sample of the soak's memory and timers.</summary>
/// <param name="Seconds">Since the start.</param>
/// <param name="Opened">Budgets opened so far.</param>
/// <param name="RetainedBytes">Managed heap after a full, compacting collection: what is really kept alive.</param>
/// <param name="LiveTimers">Timers created through the budgets' clock and not yet disposed.</param>
public sealed record SoakSample(double Seconds, long Opened, long RetainedBytes, long LiveTimers);

/// <summary>The outcome of a soak: the invariant checks made, every violation seen, and memory over time.</summary>
public sealed record SoakResult(
    long Opened,
    long Expired,
    long CallerCancelled,
    long RefusedUnderExpiredParent,
    long Checks,
    IReadOnlyList<string> Violations,
    IReadOnlyList<SoakSample> Samples,
    long LiveTimersAtEnd,
    long TimersCreated,
    int PoolRetention,
    TimeSpan Elapsed);

/// <summary>
/// Issue 8, concurrency and soak: many flows open and dispose random chains of budgets under one long-lived root on the
/// real clock — ambient and detached children, reserves, caller tokens that get cancelled, timeouts short enough to expire
/// mid-chain — and check the promises at every step: no child ends after its parent, <see cref="Budget.Current"/> is
/// restored, an expired or cancelled child never cancels its parent, and nothing is left behind (timers are counted
/// through the clock; registrations on the root's token would show as retained memory, which is sampled).
/// </summary>
/// <remarks>Shared by the CI test (short) and the benchmark program's <c>soak</c> mode (long, with a plot).</remarks>
public static class BudgetSoak
{
    public static SoakResult Run(SoakSettings settings)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(settings.Budgets);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(settings.Workers);
        var clock = new CountingClock();
        var options = new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None };
        var violations = new ConcurrentQueue<string>();
        var samples = new List<SoakSample>();
        long opened = 0, expired = 0, cancelled = 0, checks = 0, refusals = 0;

        void Violation(string what)
        {
            if (violations.Count < 100)
            {
                violations.Enqueue(what);
            }
        }

        var started = Stopwatch.StartNew();
        // The root lives for the whole run: every child links to its token, so a link left behind would pile up on it. It is
        // opened on another flow so it is nobody's ambient budget: the workers pass it explicitly.
        var root = Task.Run(() => Budget.Start("root", TimeSpan.FromDays(1), options)).GetAwaiter().GetResult();

        using var done = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                lock (samples)
                {
                    samples.Add(new SoakSample(started.Elapsed.TotalSeconds, Interlocked.Read(ref opened), Retained(), clock.LiveTimers));
                }

                try
                {
                    await Task.Delay(settings.SampleEvery, done.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        var perWorker = settings.Budgets / settings.Workers;
        var workers = Enumerable.Range(0, settings.Workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            var chain = new List<(Budget Budget, bool Ambient)>(8);
            using var callers = new CallerTokens();
            var mine = 0L;
            while (mine < perWorker)
            {
                var before = Budget.Current;
                var depth = random.Next(1, 7);
                var caller = callers.Next(random);
                for (var level = 0; level < depth; level++)
                {
                    var parent = level == 0 ? root : chain[^1].Budget;
                    var timeout = random.Next(10) switch
                    {
                        0 => TimeSpan.FromMilliseconds(random.Next(1, 4)), // expires during the chain
                        1 => Timeout.InfiniteTimeSpan,
                        _ => TimeSpan.FromMilliseconds(random.Next(50, 60_000)),
                    };
                    var ambientBefore = Budget.Current;
                    Budget child;
                    var ambient = true;
                    try
                    {
                        switch (random.Next(4))
                        {
                            case 0:
                                child = parent.DetachedChildLinkedTo($"d{level}", timeout, caller.Token);
                                ambient = false;
                                break;
                            case 1:
                                // A reserve must be shorter than a finite timeout (Child refuses it otherwise, as the plan checker does).
                                var reserve = TimeSpan.FromMilliseconds(random.Next(0, 20));
                                if (timeout != Timeout.InfiniteTimeSpan && reserve >= timeout)
                                {
                                    reserve = timeout - TimeSpan.FromMilliseconds(1);
                                }

                                child = parent.Child($"r{level}", timeout, reserve, caller.Token);
                                break;
                            default:
                                child = parent.Child($"c{level}", timeout);
                                break;
                        }
                    }
                    catch (BudgetExhaustedException refused)
                    {
                        // A parent that has run out refuses children, and says which layer ran out: it or one above it.
                        Interlocked.Increment(ref refusals);
                        Interlocked.Increment(ref checks);
                        if (!AnyAncestorExpired(parent) || !parent.Path.StartsWith(refused.Path, StringComparison.Ordinal))
                        {
                            Violation($"opening under {parent.Path} was refused as '{refused.Path}' ran out, but nothing on that path has");
                        }

                        if (!ReferenceEquals(Budget.Current, ambientBefore))
                        {
                            Violation($"a refused child changed Current to {Budget.Current?.Path ?? "null"}");
                        }

                        break;
                    }

                    chain.Add((child, ambient));
                    mine++;
                    Interlocked.Increment(ref opened);
                    Interlocked.Increment(ref checks);
                    if (child.Deadline > parent.Deadline)
                    {
                        Violation($"{child.Path} ends at {child.Deadline:O}, after its parent {parent.Path} at {parent.Deadline:O}");
                    }

                    if (!ReferenceEquals(Budget.Current, ambient ? child : ambientBefore))
                    {
                        Violation($"after opening {child.Path}, Current is {Budget.Current?.Path ?? "null"}");
                    }

                    if (random.Next(8) == 0)
                    {
                        await Task.Yield();
                    }
                }

                if (chain.Count == 0)
                {
                    callers.Return(caller);
                    continue;
                }

                var innermost = chain[^1].Budget;
                switch (random.Next(12))
                {
                    case 0:
                        // Caller cancellation reaches every child that took the token, at once.
                        caller.Cancel();
                        Interlocked.Increment(ref cancelled);
                        break;
                    case 1:
                        // Wait (bounded, on the token itself) for a short child to expire: its parent must not be cancelled by it.
                        if (innermost.Allotted < TimeSpan.FromMilliseconds(10))
                        {
                            var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                            using var link = innermost.Token.UnsafeRegister(static state => ((TaskCompletionSource)state!).TrySetResult(), cancelled);
                            try
                            {
                                await cancelled.Task.WaitAsync(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
                            }
                            catch (TimeoutException)
                            {
                                // Checked below: IsExpired tells whether it ran out in the time given.
                            }
                        }

                        if (innermost.IsExpired)
                        {
                            Interlocked.Increment(ref expired);
                            Interlocked.Increment(ref checks);
                            var parent = innermost.Parent!;
                            if (parent.Token.IsCancellationRequested && !parent.IsExpired && !caller.IsCancellationRequested && !root.Token.IsCancellationRequested
                                && !AnyAncestorExpired(parent))
                            {
                                Violation($"{innermost.Path} expiring cancelled its parent {parent.Path}");
                            }
                        }

                        break;
                }

                for (var i = chain.Count - 1; i >= 0; i--)
                {
                    chain[i].Budget.Dispose();
                }

                Interlocked.Increment(ref checks);
                if (!ReferenceEquals(Budget.Current, before))
                {
                    Violation($"after disposing a chain of {chain.Count}, Current is {Budget.Current?.Path ?? "null"} instead of {before?.Path ?? "null"}");
                }

                if (root.Token.IsCancellationRequested)
                {
                    Violation("a child cancelled the long-lived root");
                }

                chain.Clear();
                callers.Return(caller);
            }
        })).ToArray();

        Task.WaitAll(workers);
        root.Dispose();
        done.Cancel();
        sampler.Wait(TimeSpan.FromSeconds(30));
        lock (samples)
        {
            samples.Add(new SoakSample(started.Elapsed.TotalSeconds, Interlocked.Read(ref opened), Retained(), clock.LiveTimers));
        }

        return new SoakResult(opened, expired, cancelled, refusals, checks, violations.ToArray(), samples, clock.LiveTimers, clock.TimersCreated,
            PoolRetention: Environment.ProcessorCount * 4, started.Elapsed);
    }

    private static bool AnyAncestorExpired(Budget budget)
    {
        for (var b = budget; b is not null; b = b.Parent)
        {
            if (b.IsExpired)
            {
                return true;
            }
        }

        return false;
    }

    private static long Retained()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: false);
    }

    /// <summary>Caller tokens, mostly reused like a request's token is for all its calls; a cancelled one is replaced.</summary>
    private sealed class CallerTokens : IDisposable
    {
        private CancellationTokenSource _current = new();

        public CancellationTokenSource Next(Random random) => random.Next(4) == 0 ? new CancellationTokenSource() : _current;

        public void Return(CancellationTokenSource source)
        {
            if (ReferenceEquals(source, _current))
            {
                if (source.IsCancellationRequested)
                {
                    source.Dispose();
                    _current = new CancellationTokenSource();
                }
            }
            else
            {
                source.Dispose();
            }
        }

        public void Dispose() => _current.Dispose();
    }

    /// <summary>The system clock, counting the timers created through it and the ones still alive.</summary>
    private sealed class CountingClock : TimeProvider
    {
        private long _live;
        private long _created;

        public long LiveTimers => Interlocked.Read(ref _live);

        public long TimersCreated => Interlocked.Read(ref _created);

        public override long GetTimestamp() => System.GetTimestamp();

        public override long TimestampFrequency => System.TimestampFrequency;

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow();

        public override TimeZoneInfo LocalTimeZone => System.LocalTimeZone;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _created);
            Interlocked.Increment(ref _live);
            return new CountedTimer(this, System.CreateTimer(callback, state, dueTime, period));
        }

        private sealed class CountedTimer(CountingClock owner, ITimer inner) : ITimer
        {
            private int _disposed;

            public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    Interlocked.Decrement(ref owner._live);
                }

                inner.Dispose();
            }

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}
