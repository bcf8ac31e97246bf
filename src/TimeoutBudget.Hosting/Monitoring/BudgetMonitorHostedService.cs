using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace TimeoutBudget.Hosting;

/// <summary>Runs the <see cref="BudgetMonitor"/> sweep while the host runs, handing each newly overdue item to the handlers.</summary>
internal sealed class BudgetMonitorHostedService : IHostedService, IDisposable
{
    private readonly BudgetMonitor _monitor;
    private readonly TimeoutBudgetHostingOptions _options;
    private readonly IOverdueWorkHandler[] _handlers;
    private IDisposable? _sweep;

    public BudgetMonitorHostedService(BudgetMonitor monitor, IOptions<TimeoutBudgetHostingOptions> options, IEnumerable<IOverdueWorkHandler> handlers)
    {
        _monitor = monitor;
        _options = options.Value;
        _handlers = handlers.ToArray();
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _sweep = _monitor.StartSweeping(_options.SweepInterval, OnOverdue);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _sweep, null)?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => Interlocked.Exchange(ref _sweep, null)?.Dispose();

    private void OnOverdue(OverdueWork work)
    {
        List<Exception>? failures = null;
        foreach (var handler in _handlers)
        {
            try
            {
                handler.OnOverdue(work);
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                (failures ??= new()).Add(exception);
            }
        }

        _options.OnOverdue?.Invoke(work);
        if (failures is not null)
        {
            throw new AggregateException($"An overdue-work handler failed for {work.Path}.", failures);
        }
    }
}
