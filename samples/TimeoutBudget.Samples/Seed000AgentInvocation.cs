using System.Collections.Concurrent;
using System.Diagnostics;

namespace TimeoutBudget.Samples;

/// <summary>
/// Seed 000: an SDK read timeout (240 s) longer than the async wait around it (180 s). The wait gives up, the SDK call
/// keeps its executor thread, queued calls run for callers who left long ago, and the pool starves. Scaled 1 s → 1 ms.
/// </summary>
internal sealed class Seed000AgentInvocation : ISample
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromMilliseconds(180);
    private static readonly TimeSpan SdkReadTimeout = TimeSpan.FromMilliseconds(240);
    private const int Requests = 80;
    private const int ExecutorThreads = 4;
    private static readonly TimeSpan ArrivalInterval = TimeSpan.FromMilliseconds(15);

    public string Id => "000";

    public string Title => "agent invocation: SDK read timeout 240 > async wait 180, under load";

    public async Task<IReadOnlyList<SampleRow>> RunAsync()
    {
        var before = await RunLoadAsync(withBudgets: false);
        var after = await RunLoadAsync(withBudgets: true);
        Console.WriteLine($"   after: {after.Misaligned} SDK timeouts were clamped to fit the wait (171 ms = 180 − 5 % margin), each reported as misaligned");
        return
        [
            new("000", "requests served (of 80)", before.Served.ToString(), after.Served.ToString(), after.Served > before.Served),
            new("000", "abandoned SDK calls still running", before.Abandoned.ToString(), after.Abandoned.ToString(), after.Abandoned < before.Abandoned),
            new("000", "longest executor queue", before.MaxQueue.ToString(), after.MaxQueue.ToString(), after.MaxQueue <= before.MaxQueue),
            new("000", "executor time spent for no one", SampleTable.Ms(before.WastedTime), SampleTable.Ms(after.WastedTime), after.WastedTime < before.WastedTime),
        ];
    }

    private static async Task<LoadResult> RunLoadAsync(bool withBudgets)
    {
        using var executor = new FixedExecutor(ExecutorThreads);
        var misaligned = 0;
        using var monitor = new BudgetMonitor();
        var options = new BudgetOptions { Monitor = monitor, OnMisaligned = _ => Interlocked.Increment(ref misaligned) };
        var calls = new List<Task<bool>>();
        for (var i = 0; i < Requests; i++)
        {
            // Every fourth call hits an EMR cold start that takes far longer than any timeout.
            var serviceTime = TimeSpan.FromMilliseconds(i % 4 == 3 ? 400 : 60);
            calls.Add(withBudgets ? CallWithBudgetAsync(executor, serviceTime, options) : CallAsDeployedAsync(executor, serviceTime));
            await Task.Delay(ArrivalInterval);
        }

        var served = (await Task.WhenAll(calls)).Count(ok => ok);
        await executor.DrainAsync(TimeSpan.FromSeconds(30));
        return new LoadResult(served, executor.AbandonedRuns, executor.MaxQueueLength, executor.WastedTime, misaligned);
    }

    private static async Task<bool> CallAsDeployedAsync(FixedExecutor executor, TimeSpan serviceTime)
    {
        // result = await asyncio.wait_for(loop.run_in_executor(None, invoke_agent), timeout=180)
        var caller = new CallerState();
        var job = executor.Submit(caller, _ => SimulatedSdk.Invoke(serviceTime, SdkReadTimeout, CancellationToken.None), CancellationToken.None);
        try
        {
            await job.WaitAsync(WaitTimeout);
            return true;
        }
        catch (TimeoutException)
        {
            caller.GaveUp();
            return false;
        }
        catch (Exception)
        {
            return false;
        }
    }

    private static async Task<bool> CallWithBudgetAsync(FixedExecutor executor, TimeSpan serviceTime, BudgetOptions options)
    {
        using var wait = Budget.Start("agent-wait", WaitTimeout, options);
        // The SDK's configured 240 ms stays as it was in the incident: the budget clamps it to fit (171 ms) and says so.
#pragma warning disable TB0006 // deliberate: this line shows Clamp repairing the misalignment at run time
        using var sdk = wait.Child("sdk", SdkReadTimeout);
#pragma warning restore TB0006
        var caller = new CallerState();
        var job = executor.Submit(caller, token => SimulatedSdk.Invoke(serviceTime, sdk.Allotted, token), sdk.Token);
        var result = await wait.TryRunAsync(async _ =>
        {
            await job;
            return true;
        });
        if (!result.IsCompleted)
        {
            caller.GaveUp();
        }

        return result.IsCompleted;
    }

    private sealed record LoadResult(int Served, int Abandoned, int MaxQueue, TimeSpan WastedTime, int Misaligned);

    internal sealed class CallerState
    {
        private long _gaveUpAt = long.MaxValue;

        public long GaveUpAt => Interlocked.Read(ref _gaveUpAt);

        public void GaveUp() => Interlocked.Exchange(ref _gaveUpAt, Stopwatch.GetTimestamp());
    }

    /// <summary>A blocking SDK call: holds its thread until the service answers, the read timeout passes, or the token cancels.</summary>
    internal static class SimulatedSdk
    {
        public static void Invoke(TimeSpan serviceTime, TimeSpan readTimeout, CancellationToken token)
        {
            var wait = serviceTime < readTimeout ? serviceTime : readTimeout;
            if (token.WaitHandle.WaitOne(wait))
            {
                token.ThrowIfCancellationRequested();
            }

            if (serviceTime > readTimeout)
            {
                throw new TimeoutException($"Read timed out after {readTimeout.TotalMilliseconds:0} ms.");
            }
        }
    }

    /// <summary>A fixed pool of threads with a queue, like Python's default executor behind run_in_executor.</summary>
    internal sealed class FixedExecutor : IDisposable
    {
        private readonly BlockingCollection<Action> _queue = new();
        private readonly Thread[] _threads;
        private int _pending;
        private int _maxQueue;
        private int _abandoned;
        private long _wastedTicks;

        public FixedExecutor(int threads)
        {
            _threads = Enumerable.Range(0, threads).Select(_ => new Thread(Work) { IsBackground = true }).ToArray();
            foreach (var thread in _threads)
            {
                thread.Start();
            }
        }

        public int MaxQueueLength => Volatile.Read(ref _maxQueue);

        public int AbandonedRuns => Volatile.Read(ref _abandoned);

        public TimeSpan WastedTime => TimeSpan.FromTicks(Interlocked.Read(ref _wastedTicks));

        public Task Submit(CallerState caller, Action<CancellationToken> work, CancellationToken token)
        {
            var completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var queued = Interlocked.Increment(ref _pending);
            InterlockedMax(ref _maxQueue, queued);
            _queue.Add(() =>
            {
                Interlocked.Decrement(ref _pending);
                if (token.IsCancellationRequested)
                {
                    // The budget already ran out: nobody is waiting, so the call is never made.
                    completion.TrySetCanceled(token);
                    return;
                }

                var started = Stopwatch.GetTimestamp();
                try
                {
                    work(token);
                    completion.TrySetResult();
                }
                catch (Exception exception)
                {
                    completion.TrySetException(exception);
                }
                finally
                {
                    var ended = Stopwatch.GetTimestamp();
                    var gaveUp = caller.GaveUpAt;
                    if (gaveUp < ended)
                    {
                        Interlocked.Increment(ref _abandoned);
                        var wastedFrom = Math.Max(started, gaveUp);
                        Interlocked.Add(ref _wastedTicks, Stopwatch.GetElapsedTime(wastedFrom, ended).Ticks);
                    }
                }
            });
            return completion.Task;
        }

        public async Task DrainAsync(TimeSpan bound)
        {
            var deadline = Stopwatch.GetTimestamp() + (long)(bound.TotalSeconds * Stopwatch.Frequency);
            while (Volatile.Read(ref _pending) > 0 || _queue.Count > 0)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException("The executor did not drain in time.");
                }

                await Task.Delay(10);
            }

            // Let the last running calls finish their bookkeeping.
            await Task.Delay(SdkReadTimeout + TimeSpan.FromMilliseconds(50));
        }

        public void Dispose()
        {
            _queue.CompleteAdding();
            foreach (var thread in _threads)
            {
                thread.Join(TimeSpan.FromSeconds(5));
            }

            _queue.Dispose();
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int current;
            while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
            {
            }
        }

        private void Work()
        {
            foreach (var action in _queue.GetConsumingEnumerable())
            {
                action();
            }
        }
    }
}
