namespace TimeoutBudget.Tests;

/// <summary>
/// The deadline scheduler's lock (issue 15, seventh slice): a compare-exchange to enter and a release store to leave,
/// spinning between. It must exclude, under contention as well as without it.
/// </summary>
public sealed class SchedulerGateTests
{
    [Fact]
    public void Holders_never_overlap_and_every_update_made_inside_is_seen_by_the_next_holder()
    {
        var gate = new SchedulerGate();
        const int Threads = 4;
        const int PerThread = 50_000;
        long plainCounter = 0;
        var inside = 0;
        var overlaps = 0;
        using var start = new Barrier(Threads);

        var workers = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < PerThread; i++)
            {
                using (gate.Enter())
                {
                    if (Interlocked.Increment(ref inside) != 1)
                    {
                        Interlocked.Increment(ref overlaps);
                    }

                    // A plain read-modify-write: any overlap or any write not published by the exit loses an update.
                    plainCounter++;
                    Interlocked.Decrement(ref inside);
                }
            }
        })).ToList();
        workers.ForEach(worker => worker.Start());
        Assert.All(workers, worker => Assert.True(worker.Join(TimeSpan.FromSeconds(60)), "a worker never finished: the gate was left held"));

        Assert.Equal(0, overlaps);
        Assert.Equal(Threads * PerThread, plainCounter);
    }

    [Fact]
    public async Task A_gate_left_is_free_again_at_once()
    {
        var gate = new SchedulerGate();
        for (var i = 0; i < 3; i++)
        {
            var entered = Task.Run(() =>
            {
                using (gate.Enter())
                {
                    return true;
                }
            });
            Assert.True(await entered.WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }
}
