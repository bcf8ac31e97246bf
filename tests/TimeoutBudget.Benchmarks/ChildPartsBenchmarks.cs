using BenchmarkDotNet.Attributes;

namespace TimeoutBudget.Benchmarks;

/// <summary>
/// The two parts of opening a child that issue 15's fifth slice replaced, old and new side by side in one run: the three
/// conversions between timestamps and <see cref="TimeSpan"/>s per child (floating point through the virtual frequency,
/// then integer arithmetic), and what an ambient child's <see cref="Budget.Current"/> costs from opening to dispose (the
/// AsyncLocal written twice, then written once and the opening's execution context restored).
/// </summary>
[MemoryDiagnoser]
public class ChildPartsBenchmarks
{
    private static readonly AsyncLocal<object?> Ambient = new();
    private static readonly TimeSpan Margin = TimeSpan.FromMilliseconds(500);

    private readonly object _parent = new();
    private readonly object _child = new();
    private TimeProvider _time = null!;
    private TimestampScale _scale = null!;
    private long _now;
    private long _deadline;

    [GlobalSetup]
    public void Setup()
    {
        _time = TimeProvider.System;
        _scale = new TimestampScale(_time.TimestampFrequency);
        _now = _time.GetTimestamp();
        _deadline = _now + (_time.TimestampFrequency * 3600);
        Ambient.Value = _parent;
    }

    [GlobalCleanup]
    public void Cleanup() => Ambient.Value = null;

    /// <summary>Before: the parent's remaining time by <see cref="TimeProvider.GetElapsedTime(long, long)"/>, the deduction and the child's length each times a double ratio.</summary>
    [Benchmark(Baseline = true, Description = "3 conversions per child: double (before)")]
    public long ConvertDouble()
    {
        var remaining = _time.GetElapsedTime(_now, _deadline);
        var latest = _deadline - ToTimestampTicksDouble(Margin, _time, roundUp: true);
        return Math.Min(_now + ToTimestampTicksDouble(remaining - Margin, _time, roundUp: false), latest);
    }

    /// <summary>After: the same three through the clock's <see cref="TimestampScale"/>.</summary>
    [Benchmark(Description = "3 conversions per child: integer (after)")]
    public long ConvertInteger()
    {
        var scale = _scale;
        var remaining = scale.Between(_now, _deadline);
        var latest = _deadline - scale.ToTimestampTicks(Margin.Ticks, roundUp: true);
        return Math.Min(_now + scale.ToTimestampTicks((remaining - Margin).Ticks, roundUp: false), latest);
    }

    /// <summary>Before: opening writes the AsyncLocal, disposing writes the previous value back (a second new context).</summary>
    [Benchmark(Description = "Current open + dispose: two AsyncLocal writes (before)")]
    public object? AmbientTwoWrites()
    {
        Ambient.Value = _child;
        var current = Ambient.Value;
        Ambient.Value = _parent;
        return current;
    }

    /// <summary>After: opening writes the AsyncLocal between two captures, disposing restores the first capture.</summary>
    [Benchmark(Description = "Current open + dispose: one write + ExecutionContext.Restore (after)")]
    public object? AmbientWriteAndRestore()
    {
        var before = ExecutionContext.Capture();
        Ambient.Value = _child;
        var after = ExecutionContext.Capture();
        var current = Ambient.Value;
        if (before is not null && ReferenceEquals(ExecutionContext.Capture(), after))
        {
            ExecutionContext.Restore(before);
        }

        return current;
    }

    // The conversion Budget used before this slice, verbatim.
    private static long ToTimestampTicksDouble(TimeSpan duration, TimeProvider time, bool roundUp)
    {
        if (duration <= TimeSpan.Zero)
        {
            return 0;
        }

        var exact = duration.Ticks * ((double)time.TimestampFrequency / TimeSpan.TicksPerSecond);
        return (long)(roundUp ? Math.Ceiling(exact) : Math.Floor(exact));
    }
}
