using BenchmarkDotNet.Attributes;
using Polly;
using TimeoutBudget.Polly;

namespace TimeoutBudget.Benchmarks;

/// <summary>
/// Issue 7, benchmark 1: the cost of one outbound call's timeout on the happy path — open, read the token, dispose —
/// for a budget child and for what it replaces, side by side in one run.
/// </summary>
/// <remarks>
/// Every contender links to an outer layer that lives for the whole run, as a real call inside a request does.
/// </remarks>
[MemoryDiagnoser]
public class HappyPathBenchmarks
{
    /// <summary>The per-call timeout every contender arms. Long enough never to fire during a run.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    private static readonly AsyncLocal<Budget?> AmbientFloor = new();

    private Budget _root = null!;
    private CancellationTokenSource _outer = null!;
    private CancellationTokenSource _pooled = null!;
    private ResiliencePipeline _polly = null!;
    private ResiliencePipeline _budgetPolly = null!;
    private ResiliencePipeline _emptyStrategy = null!;
    private ResiliencePipeline _pollyAndEmptyStrategy = null!;
    private ResiliencePipeline _ambientChildStrategy = null!;
    private Budget _child = null!;
    private IndispensableChildFloor? _indispensableArrivals;
    private long _indispensablePushes;

    [GlobalSetup]
    public void Setup()
    {
        _root = Budget.Start("request", TimeSpan.FromHours(1));
        _outer = new CancellationTokenSource(TimeSpan.FromHours(1));
        _pooled = new CancellationTokenSource();
        _polly = new ResiliencePipelineBuilder().AddTimeout(CallTimeout).Build();
        _budgetPolly = new ResiliencePipelineBuilder().AddBudgetTimeout("dependency", CallTimeout).Build();
        _emptyStrategy = new ResiliencePipelineBuilder().AddStrategy(_ => new PassThroughStrategy(), new PassThroughOptions()).Build();
        _pollyAndEmptyStrategy = new ResiliencePipelineBuilder().AddTimeout(CallTimeout)
            .AddStrategy(_ => new PassThroughStrategy(), new PassThroughOptions()).Build();
        _ambientChildStrategy = new ResiliencePipelineBuilder().AddStrategy(_ => new AmbientChildStrategy(), new PassThroughOptions()).Build();
        _child = _root.DetachedChild("dependency", CallTimeout);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _child.Dispose();
        _root.Dispose();
        _outer.Dispose();
        _pooled.Dispose();
    }

    /// <summary>(a) What a careful hand-written call does: a linked source, armed, then disposed.</summary>
    [Benchmark(Baseline = true, Description = "(a) raw linked CTS + CancelAfter + Dispose")]
    public bool RawLinkedCts()
    {
        using var source = CancellationTokenSource.CreateLinkedTokenSource(_outer.Token);
        source.CancelAfter(CallTimeout);
        return source.Token.CanBeCanceled;
    }

    /// <summary>(b) A Polly v8 pipeline with only a timeout strategy, synchronous execution.</summary>
    [Benchmark(Description = "(b) Polly v8 AddTimeout, Execute")]
    public bool PollyTimeout() => _polly.Execute(static token => token.CanBeCanceled, _outer.Token);

    /// <summary>(b) The same pipeline executed asynchronously, as Polly's own published benchmarks do.</summary>
    [Benchmark(Description = "(b) Polly v8 AddTimeout, ExecuteAsync")]
    public ValueTask<bool> PollyTimeoutAsync() =>
        _polly.ExecuteAsync(static token => ValueTask.FromResult(token.CanBeCanceled), _outer.Token);

    /// <summary>(c) Ours through Polly: the same pipeline shape with TimeoutBudget.Polly's budget timeout, executed asynchronously.</summary>
    [Benchmark(Description = "(c) TimeoutBudget.Polly AddBudgetTimeout, ExecuteAsync")]
    public ValueTask<bool> BudgetPollyAsync() =>
        _budgetPolly.ExecuteAsync(static token => ValueTask.FromResult(token.CanBeCanceled), _outer.Token);

    /// <summary>
    /// Floor for (c): a pipeline whose only strategy is a custom one that does nothing but call the callback. Whatever
    /// a strategy of ours does, it costs at least this (the pipeline's execution plus one custom strategy's dispatch).
    /// </summary>
    [Benchmark(Description = "floor (c): empty custom strategy alone, ExecuteAsync")]
    public ValueTask<bool> EmptyStrategyAsync() =>
        _emptyStrategy.ExecuteAsync(static token => ValueTask.FromResult(token.CanBeCanceled), _outer.Token);

    /// <summary>Floor for (c) in the three-strategy shape: Polly's timeout plus one custom strategy that does nothing.</summary>
    [Benchmark(Description = "floor (c): Polly AddTimeout + empty custom strategy, ExecuteAsync")]
    public ValueTask<bool> PollyAndEmptyStrategyAsync() =>
        _pollyAndEmptyStrategy.ExecuteAsync(static token => ValueTask.FromResult(token.CanBeCanceled), _outer.Token);

    /// <summary>
    /// Floor for (c) under the issue's own rule (the callback sees the budget as <see cref="Budget.Current"/>): a custom
    /// strategy that does nothing but open an ambient child linked to the pipeline's token, read its token, run the
    /// callback and dispose the child. Whatever our strategy does, it does at least this.
    /// </summary>
    [Benchmark(Description = "floor (c): custom strategy opening an ambient child linked to the pipeline token, ExecuteAsync")]
    public ValueTask<bool> AmbientChildStrategyAsync() =>
        _ambientChildStrategy.ExecuteAsync(static token => ValueTask.FromResult(token.CanBeCanceled), _outer.Token);

    /// <summary>
    /// Floor for "no slower than (a)" under the rule to keep the precise clock read: the raw contender plus one
    /// precise clock read, which a raw source does not need (its timer counts on the coarse clock) and a budget does.
    /// </summary>
    [Benchmark(Description = "floor (a) + one precise clock read")]
    public long RawLinkedCtsAndClock()
    {
        using var source = CancellationTokenSource.CreateLinkedTokenSource(_outer.Token);
        source.CancelAfter(CallTimeout);
        return source.Token.CanBeCanceled ? TimeProvider.System.GetTimestamp() : 0;
    }

    /// <summary>
    /// Floor of what an ambient child adds to a detached one: making a budget <see cref="Budget.Current"/> and back, the
    /// way <see cref="Budget.Dispose"/> does it when nothing else changed (one <c>AsyncLocal</c> write, then a restore).
    /// </summary>
    [Benchmark(Description = "floor (ambient - detached): Current open + dispose")]
    public object? CurrentOpenAndDispose()
    {
        var before = ExecutionContext.Capture()!;
        AmbientFloor.Value = _child;
        var current = AmbientFloor.Value;
        ExecutionContext.Restore(before);
        return current;
    }

    /// <summary>Ours: a child budget of a long-lived root, its token read, then disposed. It becomes <see cref="Budget.Current"/> meanwhile.</summary>
    [Benchmark(Description = "TimeoutBudget Child (ambient) + Token + Dispose")]
    public bool BudgetChild()
    {
        using var child = _root.Child("dependency", CallTimeout);
        return child.Token.CanBeCanceled;
    }

    /// <summary>Ours, for a call that takes the token explicitly: the child is not made <see cref="Budget.Current"/>.</summary>
    [Benchmark(Description = "TimeoutBudget DetachedChild + Token + Dispose")]
    public bool BudgetDetachedChild()
    {
        using var child = _root.DetachedChild("dependency", CallTimeout);
        return child.Token.CanBeCanceled;
    }

    /// <summary>The floor a pooled design could reach: one reused source, linked, armed, reset with TryReset.</summary>
    [Benchmark(Description = "floor: pooled CTS + link + CancelAfter + TryReset")]
    public bool PooledCtsFloor()
    {
        var source = _pooled;
        var link = _outer.Token.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), source);
        source.CancelAfter(CallTimeout);
        var result = source.Token.CanBeCanceled;
        link.Dispose();
        if (!source.TryReset())
        {
            source.Dispose();
            _pooled = new CancellationTokenSource();
        }

        return result;
    }

    /// <summary>
    /// Floor for "at most one allocation per child, at most 96 B" once its token is read. A cancellable token exists only
    /// for a <see cref="CancellationTokenSource"/>, so a child that is one object with a live token must itself be a
    /// source (a separate source is a second allocation), carrying the fields the issue's own rules need (see
    /// <see cref="OneObjectChildFloor"/>). Its bytes, exact in this run, are what one object cannot go under.
    /// </summary>
    [Benchmark(Description = "floor (one allocation): a token source carrying a child's indispensable fields, Token read")]
    public object OneObjectChild()
    {
        // Returned, so that it escapes: a source that never leaves the method could live on the stack.
        var child = new OneObjectChildFloor(_root.Options, "dependency", _root, 1, 2);
        return child.Token.CanBeCanceled ? child : _root;
    }

    /// <summary>
    /// Floor for "≤ one raw linked CTS" under the issue's own rules: what any detached child must do, and nothing else. It
    /// reads the precise clock (kept by the issue), allocates an object with a child's indispensable fields (see
    /// <see cref="OneObjectChildFloor"/>), publishes it where an expiry can find it with one compare-exchange (a shared
    /// stack, emptied every 64 pushes as the scheduler's drain is), creates its token lazily and publishes the source with
    /// one compare-exchange (two readers may race for it), and decides its disposal against an expiry with one more. It
    /// leaves out everything a budget adds on top: argument checks, the margin and the nesting arithmetic, the
    /// scheduler's bookkeeping, attribution.
    /// </summary>
    [Benchmark(Description = "floor (≤ raw): a detached child's indispensable operations")]
    public bool IndispensableChild()
    {
        var child = new IndispensableChildFloor(_root.Options, "dependency", _root);
        var start = TimeProvider.System.GetTimestamp();
        child.StartTimestamp = start;
        child.DeadlineTimestamp = start + IndispensableChildFloor.Length;

        var head = _indispensableArrivals;
        child.NextArrival = head;
        if (!ReferenceEquals(Interlocked.CompareExchange(ref _indispensableArrivals, child, head), head))
        {
            throw new InvalidOperationException("One thread pushes: the compare-exchange cannot fail.");
        }

        if (++_indispensablePushes % 64 == 0)
        {
            _indispensableArrivals = null;
        }

        var created = new CancellationTokenSource();
        var source = Interlocked.CompareExchange(ref child.Source, created, null) ?? created;
        var result = source.Token.CanBeCanceled;
        Interlocked.CompareExchange(ref child.State, IndispensableChildFloor.Disposed, 0);
        return result;
    }

    /// <summary>The fields <see cref="IndispensableChild"/> needs: those of <see cref="OneObjectChildFloor"/>, its source and its link in the stack.</summary>
    private sealed class IndispensableChildFloor
    {
        public const int Disposed = 1 << 4;

        /// <summary>The call timeout in the system clock's timestamp ticks.</summary>
        public static readonly long Length = (long)(CallTimeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

        private readonly BudgetOptions _options;
        private readonly string _layer;
        private readonly Budget _parent;
        private readonly IndispensableChildFloor? _firstChild;
        private readonly IndispensableChildFloor? _previousSibling;
        private readonly IndispensableChildFloor? _nextSibling;
        private readonly int _heapIndex;
        private readonly int _heapSequence;

        public CancellationTokenSource? Source;
        public IndispensableChildFloor? NextArrival;
        public long StartTimestamp;
        public long DeadlineTimestamp;
        public int State;

        public IndispensableChildFloor(BudgetOptions options, string layer, Budget parent)
        {
            _options = options;
            _layer = layer;
            _parent = parent;

            // Written as a real child is when it opens: no siblings yet, no children, waiting to join the heap.
            _firstChild = null;
            _previousSibling = null;
            _nextSibling = null;
            _heapIndex = -2;
            _heapSequence = 0;
        }

        /// <summary>Reads every field: they are here for their bytes, and nothing else reads them.</summary>
        public override string ToString() =>
            $"{_options}{_layer}{_parent}{Source}{NextArrival}{_firstChild}{_previousSibling}{_nextSibling}{StartTimestamp}{DeadlineTimestamp}{State}{_heapIndex}{_heapSequence}";
    }

    /// <summary>
    /// The least a child that is also its own token source holds, each field for a rule of issue 15 or of the budget's
    /// contract: the options (clock, margin, monitor); its layer and parent (attribution, path, the parent's margin); the
    /// first of its children and its two siblings (a parent cancels its live children through an intrusive list with O(1)
    /// add and remove, no registration per child); its start and deadline (<see cref="Budget.Remaining"/>, elapsed time,
    /// never early by the precise clock); its state (cause and disposal, decided atomically); its place in the
    /// scheduler's heap (removal without a search) and its opening sequence (equal deadlines expire in opening order).
    /// No context field: a detached child is never <see cref="Budget.Current"/>.
    /// </summary>
    private sealed class OneObjectChildFloor : CancellationTokenSource
    {
        private readonly BudgetOptions _options;
        private readonly string _layer;
        private readonly Budget? _parent;
        private readonly long _startTimestamp;
        private readonly long _deadlineTimestamp;
        private OneObjectChildFloor? _firstChild;
        private OneObjectChildFloor? _previousSibling;
        private OneObjectChildFloor? _nextSibling;
        private int _state;
        private int _heapIndex = -1;
        private int _heapSequence;

        public OneObjectChildFloor(BudgetOptions options, string layer, Budget? parent, long startTimestamp, long deadlineTimestamp)
        {
            _options = options;
            _layer = layer;
            _parent = parent;
            _startTimestamp = startTimestamp;
            _deadlineTimestamp = deadlineTimestamp;

            // Written as a real child is when it opens: no siblings yet, no children, not yet in the heap.
            _firstChild = null;
            _previousSibling = null;
            _nextSibling = null;
            _state = 0;
            _heapSequence = 0;
        }

        /// <summary>Reads every field: they are here for their bytes, and nothing else reads them.</summary>
        public override string ToString() =>
            $"{_options}{_layer}{_parent}{_startTimestamp}{_deadlineTimestamp}{_firstChild}{_previousSibling}{_nextSibling}{_state}{_heapIndex}{_heapSequence}";
    }

    /// <summary>A custom strategy that only calls the callback: the least any strategy costs.</summary>
    private sealed class PassThroughStrategy : ResilienceStrategy
    {
        protected override ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
            Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback, ResilienceContext context, TState state) =>
            callback(context, state);
    }

    /// <summary>Opens an ambient child linked to the pipeline's token around the callback, and nothing else.</summary>
    private sealed class AmbientChildStrategy : ResilienceStrategy
    {
        protected override ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
            Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback, ResilienceContext context, TState state)
        {
            using var budget = Budget.Enter("dependency", CallTimeout, options: null, context.CancellationToken);
            return budget.Token.CanBeCanceled ? callback(context, state) : default;
        }
    }

    private sealed class PassThroughOptions : ResilienceStrategyOptions
    {
        public PassThroughOptions() => Name = "PassThrough";
    }
}
