using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

public sealed class TelemetryTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new();
    private readonly MeterListener _listener = new();
    private readonly List<(string Name, double Value, Dictionary<string, object?> Tags)> _measurements = [];
    private readonly string _unique = "t" + Guid.NewGuid().ToString("N")[..8];

    public TelemetryTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == BudgetTelemetryNames.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task Every_documented_instrument_reports_with_its_layer()
    {
        var monitor = new BudgetMonitor(_clock);
        var options = new BudgetOptions { TimeProvider = _clock, Monitor = monitor };
        var outer = Layer("outer");
        var inner = Layer("inner");

        using (var root = Budget.Start(outer, TimeSpan.FromSeconds(100), options))
        {
            using var clamped = root.Child(inner, TimeSpan.FromSeconds(200));
            await clamped.RunAsync(_ => Task.CompletedTask);
            using var separate = Budget.Start(Layer("separate"), TimeSpan.FromSeconds(500), options);
            _clock.Advance(TimeSpan.FromSeconds(100));
            monitor.Sweep();
        }

        Assert.Contains(_measurements, m => m.Name == BudgetTelemetryNames.Misaligned && Equals(m.Tags["layer"], inner) && Equals(m.Tags["parent_layer"], outer) && Equals(m.Tags["mode"], "clamp"));
        Assert.Contains(_measurements, m => m.Name == BudgetTelemetryNames.Expired && Equals(m.Tags["layer"], outer));
        Assert.Contains(_measurements, m => m.Name == BudgetTelemetryNames.Inverted && Equals(m.Tags["layer"], Layer("separate")) && Equals(m.Tags["outer_layer"], inner));
        Assert.Contains(_measurements, m => m.Name == BudgetTelemetryNames.Outcomes && Equals(m.Tags["layer"], inner) && Equals(m.Tags["outcome"], "completed"));
        Assert.Contains(_measurements, m => m.Name == BudgetTelemetryNames.RemainingAtCompletion && Equals(m.Tags["layer"], inner) && m.Value > 0);
        Assert.Contains(_measurements, m => m.Name == BudgetTelemetryNames.Orphans && Equals(m.Tags["layer"], inner) && m.Value == 1);
        Assert.Contains(_measurements, m => m.Name == BudgetTelemetryNames.Orphans && Equals(m.Tags["layer"], inner) && m.Value == -1);
        Assert.Contains(_measurements, m => m.Name == BudgetTelemetryNames.PostDeadline && Equals(m.Tags["layer"], inner) && m.Value > 0);
    }

    [Fact]
    public async Task Misalignment_and_faults_are_logged_and_added_to_the_current_activity()
    {
        var logger = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logger)));
        using var source = new ActivitySource(_unique);
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == _unique,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(activityListener);

        using var activity = source.StartActivity("request")!;
        var options = new BudgetOptions { TimeProvider = _clock, LoggerFactory = factory };
        using var root = Budget.Start(Layer("orchestrator"), TimeSpan.FromSeconds(180), options);
        using var sdk = root.Child("sdk", TimeSpan.FromSeconds(240));
        var faulted = await root.TryRunAsync<int>(_ => throw new InvalidOperationException("schema mismatch"));

        Assert.Equal(BudgetOutcome.Faulted, faulted.Outcome);
        var records = logger.GetSnapshot();
        Assert.Contains(records, r => r.Level == LogLevel.Warning && r.Message.Contains("sdk requested 240 s", StringComparison.Ordinal));
        Assert.Contains(records, r => r.Level == LogLevel.Warning && r.Message.Contains("faulted with InvalidOperationException; recorded as faulted, not as a timeout", StringComparison.Ordinal));
        Assert.Contains(activity.Events, e => e.Name == "timeoutbudget.misaligned");
        Assert.Contains(activity.Events, e => e.Name == "timeoutbudget.faulted");
    }

    private string Layer(string name) => name + "-" + _unique;

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        if (copy.Values.Any(v => v is string s && s.EndsWith(_unique, StringComparison.Ordinal)))
        {
            lock (_measurements)
            {
                _measurements.Add((instrument.Name, value, copy));
            }
        }
    }
}
