using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;

namespace TimeoutBudget;

/// <summary>
/// Settings shared by a root budget and every child opened under it. Immutable once a budget uses it; validated with
/// data annotations the first time it is used.
/// </summary>
public sealed record BudgetOptions
{
    /// <summary>The longest <see cref="MaxTimeout"/> allowed: 49 days, just under what a .NET timer can be armed for.</summary>
    public static readonly TimeSpan MaxTimeoutLimit = TimeSpan.FromDays(49);

    private ILogger? _logger;
    private DeadlineScheduler? _scheduler;
    private volatile bool _validated;

    /// <summary>Creates options with every default.</summary>
    public BudgetOptions()
    {
    }

    // A copy made with 'with' must be validated afresh and must not share the cached logger of another factory.
    private BudgetOptions(BudgetOptions original)
    {
        TimeProvider = original.TimeProvider;
        Mode = original.Mode;
        Margin = original.Margin;
        Reserve = original.Reserve;
        MaxTimeout = original.MaxTimeout;
        Monitor = original.Monitor;
        LoggerFactory = original.LoggerFactory;
        OnMisaligned = original.OnMisaligned;
        OnInverted = original.OnInverted;
    }

    /// <summary>Options with every default, shared.</summary>
    public static BudgetOptions Default { get; } = new();

    /// <summary>The clock. Tests pass a <c>FakeTimeProvider</c>. Default <see cref="TimeProvider.System"/>.</summary>
    [Required]
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>What a child that does not fit does: grant what fits (<see cref="BudgetMode.Clamp"/>, default) or throw (<see cref="BudgetMode.Strict"/>).</summary>
    [EnumDataType(typeof(BudgetMode))]
    public BudgetMode Mode { get; init; } = BudgetMode.Clamp;

    /// <summary>How much earlier than its parent a child must expire. Default <see cref="BudgetMargin.Default"/>: 5 % of the parent's remaining time, at least 10 ms.</summary>
    [Required]
    public BudgetMargin Margin { get; init; } = BudgetMargin.Default;

    /// <summary>
    /// The tail of a root budget opened with these options that its children cannot use, so a fallback ("use the last
    /// good result") always has time to run. Children opened with <see cref="Budget.Child(string, TimeSpan)"/> keep no
    /// reserve unless they ask for one. Default zero.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "49.00:00:00")]
    public TimeSpan Reserve { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// The longest any budget may be. An infinite or larger requested timeout for a root is clamped to it; a caller's
    /// deadline can never lengthen a budget past it. Default one day; at most <see cref="MaxTimeoutLimit"/>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "49.00:00:00")]
    public TimeSpan MaxTimeout { get; init; } = TimeSpan.FromDays(1);

    /// <summary>The abandoned-work ledger that tracks every budget opened with these options; none by default.</summary>
    public BudgetMonitor? Monitor { get; init; }

    /// <summary>Where misalignments, expiries, inversions and faults are logged; none by default.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Called when a requested timeout does not fit (in <see cref="BudgetMode.Clamp"/>, and for separate roots opened inside another budget).</summary>
    public Action<BudgetMisalignment>? OnMisaligned { get; init; }

    /// <summary>Called when an outer budget expires while an inner one that should have fired first is still armed.</summary>
    public Action<BudgetInversion>? OnInverted { get; init; }

    /// <summary>No longer has any effect: a budget's token is its own and is never handed to another budget.</summary>
    /// <remarks>
    /// Budgets used to pass the cancellation source of one that ended cleanly to the next, so a token kept past its
    /// budget's end could be cancelled by an unrelated budget. Budgets no longer own a timer (one scheduler per clock
    /// expires them) and create their source only when <see cref="Budget.Token"/> is read, so there is nothing worth
    /// reusing and every token is safe to keep.
    /// </remarks>
    [Obsolete("Token sources are no longer reused; every budget's token is its own. This setting has no effect.")]
    public bool ReuseTokenSources { get; init; } = true;

    /// <summary>The deadline scheduler of <see cref="TimeProvider"/>, shared by every options object on that clock; set only by tests.</summary>
    internal DeadlineScheduler Scheduler
    {
        get => _scheduler ??= DeadlineScheduler.For(TimeProvider);
        init => _scheduler = value;
    }

    internal ILogger? Logger => LoggerFactory is null ? null : _logger ??= LoggerFactory.CreateLogger("TimeoutBudget");

    internal void EnsureValid()
    {
        if (_validated)
        {
            return;
        }

        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true))
        {
            throw new ArgumentException("Invalid BudgetOptions: " + string.Join(" ", results.Select(r => r.ErrorMessage)), "options");
        }

        if (Reserve >= MaxTimeout)
        {
            throw new ArgumentException($"Invalid BudgetOptions: Reserve ({DurationText.Format(Reserve)}) must be shorter than MaxTimeout ({DurationText.Format(MaxTimeout)}).", "options");
        }

        _validated = true;
    }
}
