using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>A clock whose timers fire only when the test says so: to stop at a deadline before its timer fires, or fire one timer.</summary>
internal sealed class HandFiredClock : TimeProvider
{
    private readonly List<HandTimer> _timers = [];

    public FakeTimeProvider Clock { get; } = new();

    public TimeSpan LastDue { get; private set; }

    public override long TimestampFrequency => Clock.TimestampFrequency;

    public override long GetTimestamp() => Clock.GetTimestamp();

    public override DateTimeOffset GetUtcNow() => Clock.GetUtcNow();

    public void Advance(TimeSpan delta) => Clock.Advance(delta);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new HandTimer(this, callback, state);
        _timers.Add(timer);
        return timer;
    }

    /// <summary>Fires every armed timer once.</summary>
    public void FireAll()
    {
        foreach (var timer in _timers.ToArray())
        {
            timer.Fire();
        }
    }

    /// <summary>Fires the timer created <paramref name="index"/>-th, if armed.</summary>
    public void Fire(int index) => _timers[index].Fire();

    private sealed class HandTimer(HandFiredClock owner, TimerCallback callback, object? state) : ITimer
    {
        private bool _armed;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            _armed = dueTime != Timeout.InfiniteTimeSpan;
            if (_armed)
            {
                owner.LastDue = dueTime;
            }

            return true;
        }

        public void Fire()
        {
            if (_armed)
            {
                _armed = false;
                callback(state);
            }
        }

        public void Dispose() => _armed = false;

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
