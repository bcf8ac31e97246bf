using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.ObjectPool;

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
    private ObjectPool<TokenLease>? _leases;
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
        ReuseTokenSources = original.ReuseTokenSources;
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

    /// <summary>
    /// Whether a budget that ends cleanly — disposed before anything cancelled it, with no work of its
    /// <see cref="Budget.RunAsync(Func{CancellationToken, Task})"/> still running — hands its cancellation source and timer
    /// to the next budget instead of leaving them to the garbage collector. Default <see langword="true"/>.
    /// </summary>
    /// <remarks>
    /// A reused source means a <see cref="Budget.Token"/> must not be used after its budget is disposed: a copy kept by
    /// fire-and-forget work would then observe a later, unrelated budget. Tokens of budgets that expired or were
    /// cancelled are never reused, so work abandoned at a deadline always sees its cancellation. Set
    /// <see langword="false"/> when code you cannot change keeps budget tokens past the budget's end.
    /// </remarks>
    public bool ReuseTokenSources { get; init; } = true;

    internal ObjectPool<TokenLease> Leases => _leases ?? LazyInitializer.EnsureInitialized(ref _leases, () => TokenLease.Pool.For(TimeProvider));

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
