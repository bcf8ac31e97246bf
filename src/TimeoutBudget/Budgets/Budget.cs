using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace TimeoutBudget;

/// <summary>
/// A deadline for one layer of work (orchestrator, transport, client…) whose children always expire before it does.
/// </summary>
/// <remarks>
/// <para>Open a root with <see cref="Start"/> or <see cref="FromDeadline"/>, inner layers with <see cref="Child(string, TimeSpan)"/>,
/// and dispose each when its layer ends. While open, a budget is <see cref="Current"/> on its async flow; disposing it
/// restores the previous one.</para>
/// <para>A child's deadline is never later than its parent's deadline minus the margin (and the parent's reserve), and its
/// <see cref="Token"/> cancels at its own deadline, when its parent's token does, or when the caller's token does. A root
/// opened while another budget is <see cref="Current"/> is also cancelled when that budget ends.</para>
/// </remarks>
public sealed class Budget : IDisposable
{
    private static readonly AsyncLocal<Budget?> Ambient = new();

    // The last layer name instance a child was opened with, known valid.
    private static string? lastValidLayer;

    // The hot fields only: everything a budget rarely needs lives in Extras, so opening a child allocates one small object
    // (and its cancellation source once Token is read).
    private readonly BudgetOptions _options;
    // Created on the first read of Token: a budget used only through its clock never allocates one. Never reused, so a
    // token that outlives its budget is never cancelled by another budget.
    private CancellationTokenSource? _source;
    private long _startTimestamp;
    private long _deadlineTimestamp;
    private long _utcTicksAtStart;
    private Extras? _extras;
    private CancellationTokenRegistration _callerLink;

    // Live children, an intrusive doubly-linked list guarded by the lock of the clock's DeadlineScheduler: a child joins it
    // when the scheduler drains its arrivals and leaves it when disposed, at no lock of its own. A parent cancels its
    // children itself, so a child costs no registration on its parent's token. Once a parent has a cause, no child
    // leaves its list, and children still arriving join it until the list is taken; once taken, the list is frozen, so
    // whoever took it can walk it outside the lock.
    private Budget? _firstChild;
    private Budget? _previousSibling;
    private Budget? _nextSibling;

    // For an ambient budget: the execution context its opening made, in which it is Current. When a budget opens where
    // the flow's context is still the one the previous Current's opening made (nothing else changed an AsyncLocal
    // between the two), it records that (State.RestoresPreviousContext), and its Dispose, while the flow's context is
    // still its own, goes back to the previous budget's context: the same values, without allocating the new context
    // (and value map) that writing the AsyncLocal back would. One field, not two: a 16-B larger budget cost the
    // 100,000-budget lateness run a gen-0 collection in every run.
    private ExecutionContext? _context;

    /// <summary>Whether this budget sits in its parent's list of live children. Written under the scheduler's lock.</summary>
    private bool _inParentList;

    /// <summary>Whether this budget's list has been taken (by its cancellation or its dispose): from then on it is frozen. Written under the scheduler's lock.</summary>
    private bool _childrenTaken;

    // The cause, the flags and the count of running scopes in one int (see State): five fields of their own took 18 B
    // and padding in every budget. Flags that change after the constructor are set with Interlocked.Or or a CAS loop.
    private int _state = State.OneScope;

    /// <summary>
    /// Where this budget's deadline sits in its clock's <see cref="DeadlineScheduler"/>; -1 when not waiting there, below
    /// that while it waits among the scheduler's arrivals. Written under the scheduler's lock, except by a child's opener
    /// before a drain takes the child in.
    /// </summary>
    internal int HeapIndex = -1;

    /// <summary>The scheduler's opening sequence number, which orders equal deadlines; kept here (it fits the padding) so a heap entry is 16 B, not 24. Written under the scheduler's lock.</summary>
    internal int HeapSequence;

    // Opening is split in two: this fills in what does not depend on the clock; Open does the rest. A child is allocated
    // and filled in before its opener reads the clock (OpenChild), so these stores leave the store buffer while the
    // clock read runs, instead of stalling the exchange that enrols the child in its scheduler right after it (measured:
    // docs/performance.md, "Issue 15, eighth slice" and "eleventh slice").
    private Budget(string layer, Budget? parent, BudgetOptions options, bool ambient)
    {
        _options = options;
        Layer = layer;
        Parent = parent;
        if (ambient)
        {
            // What Dispose restores. Current, rather than the raw ambient value, is the same budget once Dispose skips the
            // disposed ones, and it is usually the parent, which then needs no field. Set before anything can see this
            // budget, so the plain writes cannot race a cancellation.
            var previous = Current;
            var previousIsParent = ReferenceEquals(previous, parent);
            if (!previousIsParent && previous is not null)
            {
                // Opened from a budget that is not Current: keep the one to restore. When nothing is Current (a flow
                // that does not see the parent) there is nothing to keep, so no Extras.
                _extras = new Extras { Previous = previous };
            }

            var restoresPreviousContext = previous?._context is { } previousContext && ReferenceEquals(ExecutionContext.Capture(), previousContext);
            _state = State.OneScope | State.Ambient
                | (restoresPreviousContext ? State.RestoresPreviousContext : 0)
                | (previousIsParent ? State.PreviousIsParent : 0);
        }
    }

    /// <summary>The second half of opening: the allotment, the deadline, the links, and the scheduling that publishes the budget.</summary>
    private void Open(TimeSpan allotted, TimeSpan reserve, Extras? extras, CancellationToken callerToken, long startTimestamp, long deadlineTimestamp)
    {
        var options = _options;
        var parent = Parent;
        Allotted = allotted;
        if (extras is not null)
        {
            // The previous budget, if the first half kept one, goes with the rest of the rarely needed fields.
            if (_extras is { } early)
            {
                extras.Previous = early.Previous;
            }

            _extras = extras;
        }

        if (reserve > TimeSpan.Zero)
        {
            // Made before: by the opener (a child must not allocate once enrolled), or by the constructor.
            _extras!.Reserve = reserve;
        }

        _startTimestamp = startTimestamp;
        _deadlineTimestamp = deadlineTimestamp;
        if (parent is null)
        {
            _utcTicksAtStart = Time.GetUtcNow().UtcTicks;
        }

        if (deadlineTimestamp <= startTimestamp)
        {
            // Not yet published, so plain writes: no child can be linked to it, no token exists yet (the first read finds
            // the cause and creates it cancelled), nobody waits for its cancellation to complete. Only a drain may see a
            // child, enrolled already: it reads the cause once Withdraw says the child is complete, and drops it.
            _state |= (int)Cause.Expired | State.CancelCompleted;
            if (parent is not null)
            {
                options.Scheduler.Withdraw(this);
            }
        }
        else
        {
            // The deadline is absolute and the open's own clock reading arms the timer when needed: no second read.
            if (options.Scheduler.Add(this, deadlineTimestamp, startTimestamp, parent))
            {
                // The parent cancelled after OpenChild checked it and took its list before this child could join it:
                // the child ends with it at once, before anyone holds it.
                CancelWith(Cause.Parent);
            }

            if (callerToken.CanBeCanceled)
            {
                _callerLink = callerToken.UnsafeRegister(static state => ((Budget)state!).CancelWith(Cause.Caller), this);
            }

            if (extras?.Enclosing is { } enclosing)
            {
                extras.EnclosingLink = enclosing.Token.UnsafeRegister(static state => ((Budget)state!).OnEnclosingCancelled(), this);
            }
        }

        // Set by the first half and never cleared.
        if ((Volatile.Read(ref _state) & State.Ambient) != 0)
        {
            Ambient.Value = this;

            // Null while the flow is suppressed: then Dispose writes the AsyncLocal back, as it does on another flow.
            _context = ExecutionContext.Capture();
        }

        options.Monitor?.Track(this);
    }

    /// <summary>The layout of <c>_state</c>: the cause in the low bits, then flags, then the count of running scopes.</summary>
    private static class State
    {
        public const int CauseMask = 0x7;
        public const int CancelCompleted = 1 << 3;
        public const int Disposed = 1 << 4;
        public const int Ambient = 1 << 5;
        public const int PreviousIsParent = 1 << 6;
        public const int RestoresPreviousContext = 1 << 7;
        public const int OneScope = 1 << 8;
    }

    private enum Cause
    {
        None,
        Expired,
        Parent,
        Caller,

        // The budget that was Current when this root opened ended (expired or cancelled): the root ends with it.
        Enclosing,

        // Disposed before anything cancelled it: no cause can be recorded any more.
        Closed,
    }

    /// <summary>The innermost open budget on this async flow, or <see langword="null"/>.</summary>
    public static Budget? Current
    {
        get
        {
            var budget = Ambient.Value;
            while (budget is not null && budget.IsDisposed)
            {
                budget = budget.Previous;
            }

            return budget;
        }
    }

    /// <summary>The layer's name, e.g. <c>"transport"</c>.</summary>
    public string Layer { get; }

    /// <summary>The path from the root, e.g. <c>"orchestrator/transport/client"</c>.</summary>
    /// <remarks>Built on first use: most budgets end without anyone asking for it.</remarks>
    public string Path
    {
        get
        {
            if (Parent is null)
            {
                return Layer;
            }

            var extras = GetExtras();
            return extras.Path ??= Parent.Path + "/" + Layer;
        }
    }

    /// <summary>The enclosing budget, or <see langword="null"/> for a root.</summary>
    public Budget? Parent { get; }

    /// <summary>What the layer asked for. May be longer than <see cref="Allotted"/> when it was clamped.</summary>
    public TimeSpan Requested => _extras?.Requested ?? Allotted;

    /// <summary>What the layer was granted.</summary>
    public TimeSpan Allotted { get; private set; }

    /// <summary>The tail of this budget that its children cannot use, kept for a fallback.</summary>
    /// <remarks>Kept apart from the budget's own fields: few budgets have one.</remarks>
    public TimeSpan Reserve => _extras is { } extras ? extras.Reserve : TimeSpan.Zero;

    /// <summary>When the layer expires, by the budget's clock.</summary>
    public DateTimeOffset Deadline
    {
        get
        {
            var root = this;
            while (root.Parent is { } parent)
            {
                root = parent;
            }

            return new DateTimeOffset(root._utcTicksAtStart, TimeSpan.Zero) + Time.GetElapsedTime(root._startTimestamp, _deadlineTimestamp);
        }
    }

    /// <summary>Time left until <see cref="Deadline"/>; zero once passed or once the budget has expired. Never increases.</summary>
    public TimeSpan Remaining
    {
        get
        {
            // Between is zero once the deadline has passed; the cause keeps it zero on a clock that steps back.
            return CurrentCause == Cause.Expired ? TimeSpan.Zero : _options.Scheduler.Scale.Between(Time.GetTimestamp(), _deadlineTimestamp);
        }
    }

    /// <summary>Time since the layer opened.</summary>
    public TimeSpan Elapsed => Time.GetElapsedTime(_startTimestamp);

    /// <summary>What a child opened now could be granted at most: the time left, minus this budget's reserve and margin.</summary>
    public TimeSpan Available
    {
        get
        {
            var window = Remaining - Reserve;
            return window <= TimeSpan.Zero ? TimeSpan.Zero : window - _options.Margin.For(window);
        }
    }

    /// <summary>
    /// Whether the budget has expired: its <see cref="Deadline"/> has passed by the budget's clock, even before its timer
    /// fires. The timer never expires a budget earlier: a system timer that fires a moment early (it counts whole
    /// milliseconds on a coarse clock) is re-armed for the rest. Once true, it stays true and <see cref="Remaining"/> is zero.
    /// </summary>
    public bool IsExpired => Time.GetTimestamp() >= _deadlineTimestamp || CurrentCause == Cause.Expired;

    /// <summary>
    /// Cancels at this budget's deadline (never before it: when it cancels for the deadline, <see cref="IsExpired"/> is
    /// already true), when its parent's token cancels, when the caller's token does, or, for a root opened inside another
    /// budget, when that budget ends. A token cancelled for any of the other reasons can be cancelled while
    /// <see cref="IsExpired"/> is still false; <see cref="ThrowIfExpired"/> says whose deadline or whose caller it was.
    /// </summary>
    /// <remarks>
    /// The token is this budget's alone and is never handed to another budget: work that keeps it after the budget is
    /// disposed (a streamed response body, a fire-and-forget call) sees it cancelled only if this budget was cancelled
    /// or expired before it was disposed. Its source is created on first read, so a budget used only through
    /// <see cref="Remaining"/>, <see cref="IsExpired"/>, <see cref="ThrowIfExpired"/> or <see cref="Fits"/> creates none.
    /// </remarks>
    public CancellationToken Token => (Volatile.Read(ref _source) ?? CreateSource()).Token;

    /// <summary>The options shared by this budget and its children.</summary>
    public BudgetOptions Options => _options;

    /// <summary>Application data to carry with the budget, for example the id of the run the monitor should mark as timed out.</summary>
    public object? Tag
    {
        get => _extras?.Tag;
        set => GetExtras().Tag = value;
    }

    /// <summary>The plan layer this budget was opened from, if any.</summary>
    public BudgetPlanNode? PlanNode => _extras?.PlanNode;

    internal bool IsDisposed => (Volatile.Read(ref _state) & State.Disposed) != 0;

    private Cause CurrentCause => (Cause)(Volatile.Read(ref _state) & State.CauseMask);

    /// <summary>The budget that was <see cref="Current"/> when this one opened, restored when it is disposed.</summary>
    private Budget? Previous => (Volatile.Read(ref _state) & State.PreviousIsParent) != 0 ? Parent : _extras?.Previous;

    internal long DeadlineTimestamp => _deadlineTimestamp;

    /// <summary>The earlier of this budget's deadline and that of the budget it was opened inside, for the monitor.</summary>
    internal long EffectiveDeadlineTimestamp =>
        _extras?.Enclosing is { } outer && outer._deadlineTimestamp < _deadlineTimestamp ? outer._deadlineTimestamp : _deadlineTimestamp;

    /// <summary>
    /// When the monitor starts counting this budget's work as late: the effective deadline, but never before the budget
    /// opened — a child born expired inside its parent's reserve tail has done nothing late yet.
    /// </summary>
    internal long LateAfterTimestamp => Math.Max(EffectiveDeadlineTimestamp, _startTimestamp);

    // Read through the options rather than kept in a field: one field less in every budget, for one more load.
    internal TimeProvider Time => _options.TimeProvider;

    internal BudgetMonitor.Entry? MonitorEntry
    {
        get => _extras?.MonitorEntry;
        set => GetExtras().MonitorEntry = value;
    }

    /// <summary>
    /// Opens a root budget. The caller's token (e.g. <c>HttpContext.RequestAborted</c>) is linked in: when it cancels, so
    /// does the budget, and that is reported as the caller's cancellation, never as a timeout.
    /// </summary>
    /// <param name="layer">The layer's name; not empty, no '/'.</param>
    /// <param name="timeout">The layer's timeout. Zero gives an already-expired budget; <see cref="Timeout.InfiniteTimeSpan"/> or anything over <see cref="BudgetOptions.MaxTimeout"/> is clamped to it.</param>
    /// <param name="options">Shared settings; <see cref="BudgetOptions.Default"/> when null.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <returns>The budget, now <see cref="Current"/>.</returns>
    /// <exception cref="ArgumentNullException">The layer name is null.</exception>
    /// <exception cref="ArgumentException">The layer name is empty or invalid, the timeout is negative, or the options are invalid.</exception>
    /// <exception cref="BudgetMisalignedException">In <see cref="BudgetMode.Strict"/>, the root is opened inside another budget that has less time left.</exception>
    /// <remarks>
    /// <para>A root opened while another budget is <see cref="Current"/> never outlives it: when the enclosing budget expires
    /// or is cancelled, so is this one, and its work's failure names the enclosing layer (a
    /// <see cref="BudgetExhaustedException"/> for its expiry, a <see cref="BudgetCancelledException"/> for its caller's
    /// cancellation). It is not clamped — it models a timeout that lives elsewhere, such as an SDK's — but a longer one is
    /// reported as misaligned (or refused in <see cref="BudgetMode.Strict"/>), and if the enclosing budget expires while
    /// this one is still armed, as an inversion.</para>
    /// <para>To open an inner layer, use <see cref="Enter"/> or <see cref="Child(string, TimeSpan)"/>: they are clamped to
    /// what the enclosing budget has left and expire before it.</para>
    /// </remarks>
    public static Budget Start(string layer, TimeSpan timeout, BudgetOptions? options = null, CancellationToken cancellationToken = default) =>
        OpenRoot(layer, timeout, timeout, options, plan: null, cancellationToken);

    /// <summary>
    /// Opens a root budget from a deadline that arrived from elsewhere (a header, a gRPC deadline), capped by our own
    /// maximum: a caller can shorten our budget, never lengthen it. A deadline already passed gives an expired budget, so
    /// no work starts.
    /// </summary>
    /// <param name="layer">The layer's name.</param>
    /// <param name="deadline">The incoming deadline, or <see langword="null"/> when none came (then <paramref name="maximum"/> applies).</param>
    /// <param name="maximum">Our own longest allowance for this layer; positive.</param>
    /// <param name="options">Shared settings.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <returns>The budget, now <see cref="Current"/>.</returns>
    /// <exception cref="ArgumentException">The layer name is invalid or <paramref name="maximum"/> is not positive.</exception>
    public static Budget FromDeadline(string layer, DateTimeOffset? deadline, TimeSpan maximum, BudgetOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= BudgetOptions.Default;
        // A deadline already passed gives a negative remaining time, which FromRemaining turns into an expired budget.
        // Any two DateTimeOffsets are less than 10,000 years apart, so the difference cannot overflow a TimeSpan.
        var remaining = deadline - options.TimeProvider.GetUtcNow();
        return FromRemaining(layer, remaining, maximum, options, cancellationToken);
    }

    /// <summary>
    /// Opens a root budget from a relative timeout that arrived from elsewhere (<c>grpc-timeout</c>, an Envoy header),
    /// capped by our own maximum. Negative or zero gives an expired budget.
    /// </summary>
    /// <param name="layer">The layer's name.</param>
    /// <param name="remaining">The time the caller says is left, or <see langword="null"/> when none came.</param>
    /// <param name="maximum">Our own longest allowance for this layer; positive.</param>
    /// <param name="options">Shared settings.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <returns>The budget, now <see cref="Current"/>.</returns>
    /// <exception cref="ArgumentException">The layer name is invalid or <paramref name="maximum"/> is not positive.</exception>
    public static Budget FromRemaining(string layer, TimeSpan? remaining, TimeSpan maximum, BudgetOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (maximum <= TimeSpan.Zero || maximum == TimeSpan.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(maximum), maximum, $"The maximum for '{layer}' must be a positive, finite duration: it is our own cap on what callers may ask for.");
        }

        var asked = remaining is { } r ? (r < TimeSpan.Zero ? TimeSpan.Zero : r) : maximum;
        var granted = asked < maximum ? asked : maximum;
        return OpenRoot(layer, asked, granted, options, plan: null, cancellationToken);
    }

    /// <summary>
    /// Opens a child of <see cref="Current"/> when there is one, otherwise a root: the natural entry point for code that
    /// does not know whether it runs inside a budget.
    /// </summary>
    /// <param name="layer">The layer's name.</param>
    /// <param name="timeout">The layer's timeout.</param>
    /// <param name="options">Settings for a root; a child uses its parent's.</param>
    /// <param name="cancellationToken">The caller's token, linked in either way.</param>
    /// <returns>The budget, now <see cref="Current"/>.</returns>
    public static Budget Enter(string layer, TimeSpan timeout, BudgetOptions? options = null, CancellationToken cancellationToken = default) =>
        Current is { } current ? current.Child(layer, timeout, TimeSpan.Zero, cancellationToken) : Start(layer, timeout, options, cancellationToken);

    /// <summary>Opens an inner layer that expires before this one: its deadline is at most this budget's deadline minus reserve and margin.</summary>
    /// <param name="layer">The child's name; not empty, no '/'.</param>
    /// <param name="timeout">What the child asks for. <see cref="Timeout.InfiniteTimeSpan"/> takes whatever fits.</param>
    /// <returns>The child, now <see cref="Current"/>.</returns>
    /// <exception cref="ArgumentException">The layer name is empty or invalid, or the timeout is negative.</exception>
    /// <exception cref="BudgetExhaustedException">This budget (or an ancestor) has already expired.</exception>
    /// <exception cref="BudgetCancelledException">The caller has already cancelled.</exception>
    /// <exception cref="BudgetMisalignedException">In <see cref="BudgetMode.Strict"/>, the timeout does not fit.</exception>
    /// <exception cref="ObjectDisposedException">This budget has been disposed.</exception>
    public Budget Child(string layer, TimeSpan timeout) => Child(layer, timeout, TimeSpan.Zero, CancellationToken.None);

    /// <summary>Opens an inner layer with a reserve of its own and an extra caller token linked in.</summary>
    /// <param name="layer">The child's name.</param>
    /// <param name="timeout">What the child asks for.</param>
    /// <param name="reserve">
    /// The tail of the child's time that its own children cannot use. Must be shorter than a finite
    /// <paramref name="timeout"/> (the rule <see cref="BudgetPlan.Validate"/> applies to a declared reserve); when the child
    /// is granted less than it asked for (clamped), a reserve not shorter than what it gets is dropped.
    /// </param>
    /// <param name="cancellationToken">An extra caller token (reported as the caller's cancellation).</param>
    /// <returns>The child, now <see cref="Current"/>.</returns>
    /// <inheritdoc cref="Child(string, TimeSpan)" path="/exception"/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reserve"/> is negative, or not shorter than a finite <paramref name="timeout"/>.</exception>
    public Budget Child(string layer, TimeSpan timeout, TimeSpan reserve, CancellationToken cancellationToken = default) =>
        OpenChild(layer, timeout, reserve, plan: null, ambient: true, cancellationToken);

    /// <summary>
    /// Opens an inner layer like <see cref="Child(string, TimeSpan)"/> without making it <see cref="Current"/>: for code
    /// that hands the child's <see cref="Token"/> to the call it guards, such as an SDK call or an outbound request.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Leaving the ambient flow alone makes this the cheapest way to guard a call: no execution-context change, and
    /// only the budget itself is allocated (and its cancellation source, once <see cref="Token"/> is read). Code running inside still sees the parent as <see cref="Current"/>, so use
    /// <see cref="Child(string, TimeSpan)"/> when nested code should open its own children under this layer.
    /// </para>
    /// <para>
    /// It takes no token: the child is already cancelled whenever this budget is, and this budget is linked to the
    /// caller's token. Without a token parameter, CA2016 ("forward the CancellationToken") stays quiet on a correct call;
    /// with an optional one it would ask for the caller's token again. <see cref="DetachedChildLinkedTo"/> links one more.
    /// </para>
    /// </remarks>
    /// <param name="layer">The child's name; not empty, no '/'.</param>
    /// <param name="timeout">What the child asks for. <see cref="Timeout.InfiniteTimeSpan"/> takes whatever fits.</param>
    /// <returns>The child; <see cref="Current"/> is unchanged.</returns>
    /// <inheritdoc cref="Child(string, TimeSpan)" path="/exception"/>
    public Budget DetachedChild(string layer, TimeSpan timeout) =>
        OpenChild(layer, timeout, TimeSpan.Zero, plan: null, ambient: false, CancellationToken.None);

    /// <summary>
    /// Opens a <see cref="DetachedChild(string, TimeSpan)"/> that a token this budget is not linked to cancels as well,
    /// such as a second caller's. Named apart from <see cref="DetachedChild(string, TimeSpan)"/> so that the token-less
    /// call is not an overload missing its token in the eyes of CA2016.
    /// </summary>
    /// <param name="layer">The child's name; not empty, no '/'.</param>
    /// <param name="timeout">What the child asks for. <see cref="Timeout.InfiniteTimeSpan"/> takes whatever fits.</param>
    /// <param name="alsoCancelledBy">The extra token; its cancellation is reported as the caller's.</param>
    /// <returns>The child; <see cref="Current"/> is unchanged.</returns>
    /// <inheritdoc cref="Child(string, TimeSpan)" path="/exception"/>
    public Budget DetachedChildLinkedTo(string layer, TimeSpan timeout, CancellationToken alsoCancelledBy) =>
        OpenChild(layer, timeout, TimeSpan.Zero, plan: null, ambient: false, alsoCancelledBy);

    /// <summary>Opens the child layer declared in the plan this budget was opened from, with the plan's timeout and reserve.</summary>
    /// <param name="layer">The child's name in the plan.</param>
    /// <returns>The child, now <see cref="Current"/>.</returns>
    /// <exception cref="InvalidOperationException">This budget was not opened from a plan, or its plan layer has no such child.</exception>
    public Budget Child(string layer)
    {
        var node = PlanNode ?? throw new InvalidOperationException($"'{Path}' was not opened from a BudgetPlan, so Child(\"{layer}\") has no timeout to use; pass one.");
        var child = node.FindChild(layer) ?? throw new InvalidOperationException(
            $"The plan declares no layer '{layer}' under '{node.Path}'; declared: {string.Join(", ", node.Children.Select(c => c.Layer))}.");
        return OpenChild(child.Layer, child.WorstCase, child.Reserve, child, ambient: true, CancellationToken.None);
    }

    /// <summary>Whether an attempt of the given length, started after the given delay, still fits in what a child could get now.</summary>
    /// <param name="attempt">The attempt's timeout.</param>
    /// <param name="delay">The wait before the attempt starts.</param>
    /// <returns><see langword="true"/> when <paramref name="delay"/> + <paramref name="attempt"/> ≤ <see cref="Available"/>.</returns>
    public bool Fits(TimeSpan attempt, TimeSpan delay = default)
    {
        if (attempt < TimeSpan.Zero || delay < TimeSpan.Zero)
        {
            return false;
        }

        var available = Available;
        return attempt <= available && delay <= available - attempt;
    }

    /// <summary>Throws when this budget can no longer be used, naming whose fault it is.</summary>
    /// <exception cref="BudgetExhaustedException">A deadline passed; names the innermost layer whose deadline it was.</exception>
    /// <exception cref="BudgetCancelledException">The caller cancelled.</exception>
    public void ThrowIfExpired()
    {
        var failure = Failure(innerException: null);
        if (failure is not null)
        {
            throw failure;
        }
    }

    /// <summary>
    /// What an exception means for this budget: the attributed expiry when it is (or was caused by) one of this budget's
    /// deadlines, otherwise null — the work's own fault, or the caller's cancellation, which is never reported as a timeout.
    /// A cancellation that arrives once this budget's deadline has passed is its expiry, even if the timer has not fired
    /// yet (on an overloaded machine it may fire after an enclosing layer's).
    /// </summary>
    /// <param name="exception">An exception thrown by work run under this budget.</param>
    /// <returns>The expiry naming the innermost layer whose deadline passed, or <see langword="null"/>.</returns>
    public BudgetExhaustedException? AsExpiry(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is BudgetExhaustedException exhausted)
        {
            return exhausted;
        }

        return exception is OperationCanceledException && (Token.IsCancellationRequested || IsExpired)
            ? Failure(exception) as BudgetExhaustedException
            : null;
    }

    /// <summary>
    /// Runs work with this budget's token and always records a terminal outcome. The caller regains control at the
    /// deadline even if the work ignores the token; such work is then tracked by the monitor as abandoned until it ends.
    /// </summary>
    /// <param name="work">The work; receives <see cref="Token"/>.</param>
    /// <returns>A task that completes when the work completes.</returns>
    /// <exception cref="BudgetExhaustedException">A deadline passed, before or during the work.</exception>
    /// <exception cref="BudgetCancelledException">The caller cancelled.</exception>
    /// <exception cref="ObjectDisposedException">This budget has been disposed: its layer has ended, so no work may start under it.</exception>
    /// <remarks>Any other exception is the work's own and is rethrown as it was: a failure is never reported as a timeout.</remarks>
    public async Task RunAsync(Func<CancellationToken, Task> work)
    {
        // Checked here because the lambda below is never null; the rest is checked by the run it wraps.
        ArgumentNullException.ThrowIfNull(work);
        await RunAsync<bool>(async token =>
        {
            await work(token).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
    }

    /// <inheritdoc cref="RunAsync(Func{CancellationToken, Task})"/>
    /// <typeparam name="T">The work's result.</typeparam>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> work)
    {
        var result = await TryRunAsync(work).ConfigureAwait(false);
        if (result.Outcome != BudgetOutcome.Completed)
        {
            ExceptionDispatchInfo.Throw(result.Exception!);
        }

        return result.Value!;
    }

    /// <summary>
    /// Runs work with this budget's token and returns its terminal outcome instead of throwing: completed with its value,
    /// faulted with its real exception, expired naming the layer, or cancelled by the caller.
    /// </summary>
    /// <param name="work">The work; receives <see cref="Token"/>.</param>
    /// <typeparam name="T">The work's result.</typeparam>
    /// <returns>The outcome; never throws for the work's sake.</returns>
    /// <exception cref="ObjectDisposedException">This budget has been disposed: its layer has ended, so no work may start under it.</exception>
    public async Task<BudgetResult<T>> TryRunAsync<T>(Func<CancellationToken, Task<T>> work)
    {
        // Checked here because the state, not the delegate, carries the work below; the rest is checked by the run it wraps.
        ArgumentNullException.ThrowIfNull(work);
        return await TryRunAsync(static (run, token) => new ValueTask<T>(run(token)), work).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs work that returns a <see cref="ValueTask{TResult}"/>, with state passed through so no closure is needed, and
    /// returns its terminal outcome as <see cref="TryRunAsync{T}(Func{CancellationToken, Task{T}})"/> does. Work that
    /// completes synchronously completes the result synchronously, without allocating.
    /// </summary>
    /// <param name="work">The work; receives <paramref name="state"/> and <see cref="Token"/>.</param>
    /// <param name="state">Passed to <paramref name="work"/>.</param>
    /// <typeparam name="TState">The state's type.</typeparam>
    /// <typeparam name="T">The work's result.</typeparam>
    /// <returns>The outcome; never throws for the work's sake.</returns>
    /// <exception cref="ObjectDisposedException">This budget has been disposed: its layer has ended, so no work may start under it.</exception>
    public ValueTask<BudgetResult<T>> TryRunAsync<TState, T>(Func<TState, CancellationToken, ValueTask<T>> work, TState state)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var started = Time.GetTimestamp();
        if (started >= _deadlineTimestamp || CurrentCause is not (Cause.None or Cause.Closed))
        {
            var before = Failure(innerException: null);
            if (before is not null)
            {
                return new ValueTask<BudgetResult<T>>(Record<T>(before, started));
            }
        }

        ValueTask<T> pending;
        var scoped = BeginScope();
        try
        {
            pending = work(state, Token);
        }
        catch (Exception exception)
        {
            EndScope(scoped);
            return new ValueTask<BudgetResult<T>>(Record<T>(Classify(exception), started));
        }

        if (pending.IsCompletedSuccessfully)
        {
            EndScope(scoped);
            BudgetTelemetry.RecordOutcome(this, BudgetOutcome.Completed, null);
            return new ValueTask<BudgetResult<T>>(new BudgetResult<T>(BudgetOutcome.Completed, pending.Result, null, null, Time.GetElapsedTime(started)));
        }

        return new ValueTask<BudgetResult<T>>(AwaitOutcomeAsync(pending.AsTask(), started, scoped));
    }

    private async Task<BudgetResult<T>> AwaitOutcomeAsync<T>(Task<T> task, long started, bool scoped)
    {
        if (task.IsCompleted)
        {
            EndScope(scoped);
        }
        else if (scoped)
        {
            _ = task.ContinueWith(static (_, state) => ((Budget)state!).EndScope(), this, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        T value;
        try
        {
            value = await task.WaitAsync(Token).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            if (Token.IsCancellationRequested)
            {
                // Woken by our own cancellation, possibly inside it: report only once it has reached every child, and
                // never from inside it.
                await WhenCancelCompleted().ConfigureAwait(false);
            }

            return Record<T>(Classify(exception), started);
        }

        if (Token.IsCancellationRequested)
        {
            // The work finished as our token cancelled (perhaps inside that cancellation): the same rule.
            await WhenCancelCompleted().ConfigureAwait(false);
        }

        BudgetTelemetry.RecordOutcome(this, BudgetOutcome.Completed, null);
        return new BudgetResult<T>(BudgetOutcome.Completed, value, null, null, Time.GetElapsedTime(started));
    }

    /// <summary>Ends this layer: restores the previous <see cref="Current"/>, unlinks from the parent and caller, takes its deadline out of the clock's scheduler.</summary>
    /// <remarks>Work still running with this budget's token keeps its token; the monitor tracks such work until it ends.</remarks>
    public void Dispose()
    {
        // One compare-exchange: disposed, closed (unless a cause is recorded already: then no cancellation can start
        // through this budget any more either) and this scope ended, together.
        var state = Volatile.Read(ref _state);
        int updated;
        while (true)
        {
            if ((state & State.Disposed) != 0)
            {
                return;
            }

            updated = (state | State.Disposed) - State.OneScope;
            if ((state & State.CauseMask) == (int)Cause.None)
            {
                updated |= (int)Cause.Closed;
            }

            var seen = Interlocked.CompareExchange(ref _state, updated, state);
            if (seen == state)
            {
                break;
            }

            state = seen;
        }

        if ((state & State.Ambient) != 0)
        {
            RestoreAmbient(state);
        }

        // Out of the scheduler and out of the parent's list in one lock hold (none when the timer took it off already).
        // Closed, this budget can never cancel its children: it lets go of any still open (as a reset source drops its
        // registrations).
        _options.Scheduler.Release(this, dropChildren: (state & State.CauseMask) == (int)Cause.None);
        _callerLink.Dispose();
        _extras?.EnclosingLink.Dispose();
        if ((updated & ~(State.OneScope - 1)) == 0)
        {
            // That was the last scope: none of its work is still running (see EndScope).
            _options.Monitor?.Complete(this);
        }
    }

    /// <summary>On the flow where this budget is still <see cref="Current"/>, makes the budget it replaced Current again.</summary>
    private void RestoreAmbient(int state)
    {
        var own = _context;
        _context = null;
        if (own is not null && (state & State.RestoresPreviousContext) != 0 && Previous?._context is { } previousContext &&
            ReferenceEquals(ExecutionContext.Capture(), own))
        {
            // The flow's context is the one this budget's opening made, which the previous budget's context became by
            // that one write: going back to it is exactly writing the previous budget back (a budget in between disposed
            // since is skipped by Current, as below), and allocates nothing. The previous budget's context is gone once
            // it is disposed itself; then the write below does it.
            ExecutionContext.Restore(previousContext);
            return;
        }

        if (ReferenceEquals(Ambient.Value, this))
        {
            var previous = Previous;
            while (previous is not null && previous.IsDisposed)
            {
                previous = previous.Previous;
            }

            Ambient.Value = previous;
        }
    }

    /// <summary>The path, allotment and time left.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => $"{Path}: {DurationText.Format(Remaining)} of {DurationText.Format(Allotted)} left";

    internal static Budget OpenRoot(string layer, TimeSpan requested, TimeSpan timeout, BudgetOptions? options, BudgetPlanNode? plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layer);
        LayerPath.ThrowIfInvalid(layer, nameof(layer));
        CheckTimeout(layer, timeout);
        options ??= BudgetOptions.Default;
        options.EnsureValid();

        var allotted = timeout == Timeout.InfiniteTimeSpan || timeout > options.MaxTimeout ? options.MaxTimeout : timeout;
        var enclosing = Current;
        if (enclosing is not null)
        {
            var available = enclosing.Available;
            if (allotted > available)
            {
                var misalignment = new BudgetMisalignment(layer, layer, enclosing.Layer, enclosing.Path, requested, allotted, enclosing.Remaining,
                    enclosing._options.Margin.For(enclosing.Remaining - enclosing.Reserve), enclosing.Reserve, available, options.Mode, enclosingOnly: true);
                if (options.Mode == BudgetMode.Strict)
                {
                    throw new BudgetMisalignedException(misalignment);
                }

                BudgetTelemetry.ReportMisaligned(options, misalignment);
            }
        }

        var reserve = options.Reserve < allotted ? options.Reserve : TimeSpan.Zero;
        if (plan is not null)
        {
            reserve = plan.Reserve < allotted ? plan.Reserve : TimeSpan.Zero;
        }

        var extras = enclosing is not null || plan is not null || requested != allotted || reserve > TimeSpan.Zero
            ? new Extras { Enclosing = enclosing, PlanNode = plan, Requested = requested }
            : null;
        var now = options.TimeProvider.GetTimestamp();
        // A zero timeout is a length of zero: an expired root, which never touches the clock's scheduler.
        var length = options.Scheduler.Scale.ToTimestampTicks(allotted.Ticks, roundUp: false);
        var root = new Budget(layer, parent: null, options, ambient: true);
        root.Open(allotted, reserve, extras, cancellationToken, now, AddSaturated(now, length));
        return root;
    }

    private Budget OpenChild(string layer, TimeSpan timeout, TimeSpan reserve, BudgetPlanNode? plan, bool ambient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (!ReferenceEquals(layer, Volatile.Read(ref lastValidLayer)))
        {
            // A string cannot change: once one instance passed, the same instance always passes. Call sites pass the
            // same literal on every call, so most opens skip the scan.
            LayerPath.ThrowIfInvalid(layer, nameof(layer));
            Volatile.Write(ref lastValidLayer, layer);
        }

        CheckTimeout(layer, timeout);
        if (reserve < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(reserve), reserve, $"The reserve of '{layer}' must not be negative.");
        }

        // The rule BudgetPlan.Validate applies to a declared layer, in the same words: a reserve as long as a finite
        // timeout leaves the child's children no time at all. (An infinite timeout takes whatever fits; its reserve then
        // applies only when it is shorter than what the child gets.)
        if (plan is null && reserve > TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan && timeout != TimeSpan.MaxValue && reserve >= timeout)
        {
            throw new ArgumentOutOfRangeException(nameof(reserve), reserve,
                $"{layer}: reserve {DurationText.Format(reserve)} takes all of its {DurationText.Format(timeout)}, leaving no time for its children. A reserve must be shorter than the timeout.");
        }

        ObjectDisposedException.ThrowIf(IsDisposed, this);

        // Before the clock read, on purpose (see the constructor); if the check below throws, the child is simply dropped:
        // nothing can see it yet.
        var child = new Budget(layer, this, _options, ambient);
        var now = Time.GetTimestamp();
        if (now >= _deadlineTimestamp || CurrentCause is not Cause.None)
        {
            ThrowIfExpired();
        }

        // Allocated before the enrolment below: from there until the child is complete nothing may throw. (A reserve goes
        // into the rarely needed fields the constructor made, if it made them.)
        var extras = plan is not null || (reserve > TimeSpan.Zero && child._extras is null) ? new Extras { PlanNode = plan } : null;

        // Pushed onto the scheduler's arrivals now, so that the locked instruction does not wait for the arithmetic below,
        // whose result it would otherwise publish; a drain meeting the child waits the few instructions until it is
        // complete (Add, or Withdraw if it never is scheduled).
        var scheduler = _options.Scheduler;
        scheduler.Enroll(child);

        // Integer arithmetic, exact for any frequency (see TimestampScale): the clock's frequency is not read again.
        var scale = scheduler.Scale;
        var remaining = scale.Between(now, _deadlineTimestamp).Ticks;
        var ownReserve = Reserve.Ticks;

        // Both not negative, and the margin at most the window: no difference below can overflow.
        var window = Math.Max(remaining - ownReserve, 0);
        var margins = _options.Margin;
        var margin = margins.For(window, margins.Floor.Ticks);
        var available = window - margin;
        var wantsAll = timeout == Timeout.InfiniteTimeSpan || timeout == TimeSpan.MaxValue;
        var granted = wantsAll ? available : timeout.Ticks;
        if (!wantsAll && granted > available)
        {
            // The report calls out (a logger, a listener) and may throw: the enrolled child steps aside first, since a drain
            // waits for it and the callout may drain (open a child itself); a new one is enrolled after.
            // Only its cause is read again (by the drain that drops it).
            child._state = (int)Cause.Closed;
            scheduler.Withdraw(child);
            var misalignment = new BudgetMisalignment(layer, Path + "/" + layer, Layer, Path, timeout, new TimeSpan(available), new TimeSpan(remaining),
                new TimeSpan(margin), Reserve, new TimeSpan(available), _options.Mode, enclosingOnly: false);
            if (_options.Mode == BudgetMode.Strict)
            {
                throw new BudgetMisalignedException(misalignment);
            }

            BudgetTelemetry.ReportMisaligned(_options, misalignment);
            granted = available;
            (extras ??= new Extras()).Requested = timeout;
            child = new Budget(layer, this, _options, ambient);
            scheduler.Enroll(child);
        }

        var allotted = new TimeSpan(granted);
        var childReserve = reserve < allotted ? reserve : TimeSpan.Zero;

        // Computed in clock ticks from the same instant, rounding the deductions up, so the child's deadline can never
        // land after the parent's deadline minus reserve and margin, whatever the clock's frequency. Reserve and margin
        // are each at most the parent's allotment (49 days at most): their sum cannot overflow.
        var latest = _deadlineTimestamp - scale.ToTimestampTicks(ownReserve + margin, roundUp: true);
        // Inside the parent's reserve tail the children's window has closed: the child is born expired, with its
        // deadline at the end of that window (already past), never at 'now'.
        var deadline = Math.Min(AddSaturated(now, scale.ToTimestampTicks(granted, roundUp: false)), latest);
        child.Open(allotted, childReserve, extras, cancellationToken, now, deadline);
        return child;
    }

    /// <summary>Counts one more piece of work running under this budget, for the monitor; without a monitor nobody reads the count.</summary>
    /// <returns>Whether the scope was counted, so <see cref="EndScope(bool)"/> must end it.</returns>
    private bool BeginScope()
    {
        if (_options.Monitor is null)
        {
            return false;
        }

        Interlocked.Add(ref _state, State.OneScope);
        return true;
    }

    private void EndScope(bool scoped)
    {
        if (scoped)
        {
            EndScope();
        }
    }

    /// <summary>Ends one scope; after the last (the budget disposed and none of its work still running), tells the monitor.</summary>
    internal void EndScope()
    {
        if ((Interlocked.Add(ref _state, -State.OneScope) & ~(State.OneScope - 1)) == 0)
        {
            _options.Monitor?.Complete(this);
        }
    }

    /// <summary>The exception that explains why this budget can no longer be used, or null while it can.</summary>
    internal Exception? Failure(Exception? innerException)
    {
        if (CurrentCause is Cause.None or Cause.Closed)
        {
            if (!IsExpired)
            {
                return null;
            }

            CancelWith(Cause.Expired);
        }

        for (var budget = this; budget is not null; budget = budget.Outer)
        {
            switch (budget.CurrentCause)
            {
                case Cause.Expired:
                    var innermost = InnermostExpired(budget);
                    return new BudgetExhaustedException(innermost.Layer, innermost.Path, innermost.Allotted, innermost.Elapsed, Describe(innermost), innerException);
                case Cause.Caller:
                    return new BudgetCancelledException(budget.Layer, budget.Path, budget.Elapsed, budget.Remaining, Token, innerException);
                case Cause.Parent or Cause.Enclosing:
                    continue;
                default:
                    // Disposed before anything cancelled it (Closed: no cause can be recorded any more, and every other
                    // budget on this chain has one, recorded before it cancelled the one inside it): its clock decides.
                    if (budget.IsExpired)
                    {
                        return new BudgetExhaustedException(budget.Layer, budget.Path, budget.Allotted, budget.Elapsed, Describe(budget), innerException);
                    }

                    continue;
            }
        }

        return new BudgetCancelledException(Layer, Path, Elapsed, Remaining, Token, innerException);
    }

    /// <summary>
    /// The budget this one ends with: its parent, or for a root opened inside another budget, that enclosing budget once
    /// it has ended this root (so attribution follows the cancellation to the layer that really ran out).
    /// </summary>
    private Budget? Outer => Parent ?? (CurrentCause == Cause.Enclosing ? _extras?.Enclosing : null);

    /// <summary>Of the budgets from this one up to <paramref name="expired"/>, the innermost whose deadline has passed by the clock.</summary>
    private Budget InnermostExpired(Budget expired)
    {
        for (var budget = this; budget is not null && budget != expired; budget = budget.Outer)
        {
            if (budget.IsExpired)
            {
                return budget;
            }
        }

        return expired;
    }

    private static string Describe(Budget expired)
    {
        var clamped = expired.Requested > expired.Allotted && expired.Parent is { } parent
            ? $" It asked for {DurationText.Format(expired.Requested)}; {parent.Layer} could only allow {DurationText.Format(expired.Allotted)}."
            : string.Empty;
        return $"The '{expired.Layer}' budget ({expired.Path}) ran out: {DurationText.Format(expired.Allotted)} allotted, {DurationText.Format(expired.Elapsed)} elapsed.{clamped}";
    }

    private Exception Classify(Exception exception) =>
        exception is OperationCanceledException && Token.IsCancellationRequested ? Failure(exception) ?? exception : exception;

    private BudgetResult<T> Record<T>(Exception exception, long started)
    {
        var outcome = exception switch
        {
            BudgetExhaustedException => BudgetOutcome.Expired,
            BudgetCancelledException => BudgetOutcome.Cancelled,
            _ => BudgetOutcome.Faulted,
        };
        BudgetTelemetry.RecordOutcome(this, outcome, exception);
        return new BudgetResult<T>(outcome, default, exception, (exception as BudgetExhaustedException)?.Path, Time.GetElapsedTime(started));
    }

    /// <summary>
    /// Under the scheduler's lock, as it takes this budget off for its deadline: records the expiry and leaves the parent's
    /// list, without another lock hold. The scheduler then takes the list of live children (<see cref="TakeChildrenUnderLock"/>),
    /// once the arrivals that are this budget's children have joined it.
    /// </summary>
    /// <returns>Whether this call recorded the expiry; false when another cause (or the dispose) came first.</returns>
    internal bool BeginExpiryUnderLock()
    {
        // Still in the list of a parent that is cancelling (it took the list, or is about to): the parent cancels this
        // budget, and its children, before its own token. Expiring it here too could let the parent's token go first.
        var cancelledByParent = _inParentList && Parent!.CurrentCause is not (Cause.None or Cause.Closed);
        UnlinkFromParentUnderLock();
        return !cancelledByParent && TrySetCause(Cause.Expired);
    }

    /// <summary>Outside the scheduler's lock: cancels the children taken with the expiry, then this budget's token.</summary>
    internal void CompleteExpiry(Budget? firstChild)
    {
        FinishCancel(firstChild);
        BudgetTelemetry.ReportExpired(this);
    }

    /// <summary>
    /// The budget that was <see cref="Current"/> when this root opened has ended. A root opened inside another budget never
    /// outlives it: it is cancelled too, and attributed to the enclosing budget's cause. If the enclosing budget expired
    /// while this one, which should have expired first, was still armed, that is reported as an inversion.
    /// </summary>
    private void OnEnclosingCancelled()
    {
        var outer = _extras!.Enclosing!;
        if (IsDisposed || CurrentCause != Cause.None)
        {
            return;
        }

        if (outer.IsExpired && _deadlineTimestamp > outer._deadlineTimestamp)
        {
            BudgetTelemetry.ReportInverted(_options, new BudgetInversion(Path, outer.Path, Remaining, Deadline, outer.Deadline));
        }

        CancelWith(Cause.Enclosing);
    }

    /// <summary>Records the first cause; every later one (and Closed after any) is refused.</summary>
    /// <returns>Whether this call recorded it.</returns>
    private bool TrySetCause(Cause cause)
    {
        var state = Volatile.Read(ref _state);
        while ((state & State.CauseMask) == (int)Cause.None)
        {
            var seen = Interlocked.CompareExchange(ref _state, state | (int)cause, state);
            if (seen == state)
            {
                return true;
            }

            // A flag or the scope count changed meanwhile: try again unless a cause got there first.
            state = seen;
        }

        return false;
    }

    private void CancelWith(Cause cause)
    {
        // The cause is recorded first: from here on no child is linked into the list or unlinked from it.
        if (TrySetCause(cause))
        {
            FinishCancel(_options.Scheduler.TakeChildren(this));
        }
    }

    /// <summary>Cancels the children taken from this budget's list, then its own token; the cause is already recorded.</summary>
    private void FinishCancel(Budget? firstChild)
    {
        List<Exception>? failures = null;
        try
        {
            // Every live child, and each of its children, is cancelled before this budget's own token, and all of them
            // before this call returns: whoever this token wakes finds the children already cancelled.
            for (var child = firstChild; child is not null; child = child._nextSibling)
            {
                try
                {
                    child.CancelWith(Cause.Parent);
                }
                catch (AggregateException exception)
                {
                    // A callback on a child's token threw: the rest are still cancelled, and the failure is reported below.
                    (failures ??= []).Add(exception);
                }
            }

            try
            {
                // No source yet: nobody holds the token; the first read of Token will find it cancelled (CreateSource).
                Volatile.Read(ref _source)?.Cancel();
            }
            catch (AggregateException exception) when (failures is not null)
            {
                failures.Add(exception);
            }

            if (failures is not null)
            {
                throw new AggregateException(failures);
            }
        }
        finally
        {
            // Only now may runs waiting on this budget report its outcome (see WhenCancelCompleted).
            Interlocked.Or(ref _state, State.CancelCompleted);
            Volatile.Read(ref _extras)?.CancelCompleted?.TrySetResult();
        }
    }

    /// <summary>
    /// Completes once the cancellation of this budget's token has run to its end — every child cancelled — and never
    /// inline in it: a run that woke up inside <see cref="CancellationTokenSource.Cancel()"/> (on the timer's or the
    /// caller's thread) continues on the thread pool from here, so user code never runs inside our cancellation callbacks
    /// and never sees this budget's outcome before its children have been cancelled.
    /// </summary>
    private Task WhenCancelCompleted()
    {
        if ((Volatile.Read(ref _state) & State.CancelCompleted) != 0)
        {
            return Task.CompletedTask;
        }

        var extras = GetExtras();
        var completed = extras.CancelCompleted
            ?? Interlocked.CompareExchange(ref extras.CancelCompleted, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null)
            ?? extras.CancelCompleted;
        if ((Interlocked.Or(ref _state, 0) & State.CancelCompleted) != 0)
        {
            completed.TrySetResult();
        }

        return completed.Task;
    }

    /// <summary>
    /// Under the scheduler's lock, as a child that arrived is moved in: links it into this budget's list unless the list is
    /// gone — taken by this budget's cancellation (a budget that has recorded its cause but not yet taken its list still
    /// takes the child in, and cancels it before its own token) or let go by its dispose. A child left out is cancelled by
    /// its own constructor when this budget has cancelled (<see cref="DeadlineScheduler.Add"/>).
    /// </summary>
    internal void LinkArrivedChildUnderLock(Budget child)
    {
        if (_childrenTaken || CurrentCause == Cause.Closed)
        {
            return;
        }

        var first = _firstChild;
        child._nextSibling = first;
        if (first is not null)
        {
            first._previousSibling = child;
        }

        _firstChild = child;
        child._inParentList = true;
    }

    /// <summary>
    /// The next budget in its scheduler's stack of arrivals. Kept in the previous-sibling link, which a budget does not use
    /// before it joins its parent's list, so arriving costs no field.
    /// </summary>
    internal Budget? NextArrival
    {
        get => _previousSibling;
        set => _previousSibling = value;
    }

    /// <summary>Whether a cause (an expiry, a cancellation, or the dispose) is recorded.</summary>
    internal bool HasCause => CurrentCause != Cause.None;

    /// <summary>Whether this budget was disposed before anything cancelled it.</summary>
    internal bool IsClosed => CurrentCause == Cause.Closed;

    /// <summary>Whether this budget sits in its parent's list (read under the scheduler's lock).</summary>
    internal bool InParentListUnderLock => _inParentList;

    /// <summary>Whether <see cref="DeadlineScheduler.Release"/> has anything to do under its lock for this budget.</summary>
    internal bool NeedsReleaseUnderLock(bool dropChildren) =>
        Volatile.Read(ref HeapIndex) >= 0 || Volatile.Read(ref _inParentList) || (dropChildren && Volatile.Read(ref _firstChild) is not null);

    /// <summary>Under the scheduler's lock: leaves the parent's list in O(1). A parent with a cause has frozen its list: nothing to unlink.</summary>
    internal void UnlinkFromParentUnderLock()
    {
        if (!_inParentList)
        {
            return;
        }

        _inParentList = false;
        var parent = Parent!;
        if (parent.CurrentCause != Cause.None)
        {
            return;
        }

        var previous = _previousSibling;
        var next = _nextSibling;
        if (previous is not null)
        {
            previous._nextSibling = next;
        }
        else
        {
            parent._firstChild = next;
        }

        if (next is not null)
        {
            next._previousSibling = previous;
        }

        _previousSibling = null;
        _nextSibling = null;
    }

    /// <summary>Under the scheduler's lock: takes the whole list of live children, once. The cause must be recorded already, so the list is frozen.</summary>
    /// <returns>The first child; the rest follow through their next links, which no longer change.</returns>
    internal Budget? TakeChildrenUnderLock()
    {
        _childrenTaken = true;
        var first = _firstChild;
        _firstChild = null;
        return first;
    }

    /// <summary>
    /// A child enrolled in its clock's arrivals and not yet complete, as its opener leaves it between the clock read and
    /// the deadline (for tests: a drain must wait for it). <see cref="CompleteOpeningForTests"/> completes it.
    /// </summary>
    internal Budget EnrollChildForTests(string layer)
    {
        var child = new Budget(layer, this, _options, ambient: false);
        _options.Scheduler.Enroll(child);
        return child;
    }

    /// <summary>Completes a child from <see cref="EnrollChildForTests"/>: it opens now, for <paramref name="length"/> (for tests).</summary>
    internal void CompleteOpeningForTests(TimeSpan length)
    {
        var now = Time.GetTimestamp();
        Open(length, TimeSpan.Zero, extras: null, CancellationToken.None, now, now + (long)(length.TotalSeconds * Time.TimestampFrequency));
    }

    /// <summary>How many children are linked into this budget's list right now (for tests).</summary>
    internal int LinkedChildCount => _options.Scheduler.CountChildren(this);

    /// <summary>Under the scheduler's lock: the length of the list (for tests).</summary>
    internal int CountChildrenUnderLock()
    {
        var count = 0;
        for (var child = _firstChild; child is not null; child = child._nextSibling)
        {
            count++;
        }

        return count;
    }

    /// <summary><paramref name="timestamp"/> + <paramref name="length"/> (both not negative), saturating at <see cref="long.MaxValue"/>.</summary>
    private static long AddSaturated(long timestamp, long length) =>
        length <= long.MaxValue - timestamp ? timestamp + length : long.MaxValue;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckTimeout(string layer, TimeSpan timeout)
    {
        // Inlined into every opening, its message built out of line.
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            ThrowNegativeTimeout(layer, timeout);
        }
    }

    [DoesNotReturn]
    private static void ThrowNegativeTimeout(string layer, TimeSpan timeout) =>
        throw new ArgumentOutOfRangeException(nameof(timeout), timeout, $"The timeout of '{layer}' is negative ({DurationText.Format(timeout)}); use TimeSpan.Zero for an already-expired budget or Timeout.InfiniteTimeSpan for 'whatever fits'.");

    private CancellationTokenSource CreateSource()
    {
        var created = new CancellationTokenSource();
        var source = Interlocked.CompareExchange(ref _source, created, null) ?? created;

        // Published before the cause is read, as CancelWith records the cause before it reads the source: one of the two
        // sees the other, so a budget cancelled around the first read never hands out a live token.
        if (ReferenceEquals(source, created) && CurrentCause is not (Cause.None or Cause.Closed))
        {
            created.Cancel();
        }

        return source;
    }

    /// <summary>How many scopes are open: the budget's own until disposed, plus each run still counted for the monitor (for tests).</summary>
    internal int OpenScopes => Volatile.Read(ref _state) / State.OneScope;

    /// <summary>Whether this budget has allocated its rarely needed fields (for tests).</summary>
    internal bool HasExtras => Volatile.Read(ref _extras) is not null;

    /// <summary>Whether anything has read <see cref="Token"/> yet (for tests).</summary>
    internal bool HasSource => Volatile.Read(ref _source) is not null;

    private Extras GetExtras() => _extras ?? Interlocked.CompareExchange(ref _extras, new Extras(), null) ?? _extras;

    /// <summary>What only some budgets need: kept apart so the common child stays small.</summary>
    private sealed class Extras
    {
        public TimeSpan? Requested;
        public TimeSpan Reserve;
        public Budget? Previous;
        public BudgetPlanNode? PlanNode;
        public Budget? Enclosing;
        public CancellationTokenRegistration EnclosingLink;
        public string? Path;
        public object? Tag;
        public BudgetMonitor.Entry? MonitorEntry;
        public TaskCompletionSource? CancelCompleted;
    }
}
