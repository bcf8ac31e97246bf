using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Everything one type writes about timeouts — which object got which timeout, which token source is linked to which, which
/// waits and calls happen — gathered while its members are analyzed and queried once all of them have been seen, so that a
/// client configured in the constructor is known where a method uses it.
/// </summary>
internal sealed class TypeTimeoutModel
{
    public const string TimeoutSlot = "<timeout>";

    private ConcurrentDictionary<(object Root, string Path), ConcurrentQueue<WrittenValue>>? _values;
    private ConcurrentDictionary<object, ConcurrentQueue<object?>>? _aliases;
    private ConcurrentDictionary<object, ConcurrentQueue<object>>? _linkedParents;
    private ConcurrentDictionary<object, object>? _clientConfigs;
    private ConcurrentDictionary<object, ConcurrentQueue<IOperation>>? _storedValues;
    private ConcurrentDictionary<object, bool>? _cancelledSources;

    public TypeTimeoutModel(KnownTypes types, DurationEvaluator evaluator, RequestTimeouts? requestTimeouts = null, NamedClients? namedClients = null)
    {
        Types = types;
        Evaluator = evaluator;
        RequestTimeouts = requestTimeouts;
        NamedClients = namedClients;
    }

    public NamedClients? NamedClients { get; }

    public RequestTimeouts? RequestTimeouts { get; }

    public KnownTypes Types { get; }

    public DurationEvaluator Evaluator { get; }


    // Created on first write: most types write no timeout at all, and a concurrent dictionary is not cheap to create.
    private ConcurrentDictionary<(object Root, string Path), ConcurrentQueue<WrittenValue>> WriteValues => LazyInitializer.EnsureInitialized(ref _values, () => new ConcurrentDictionary<(object Root, string Path), ConcurrentQueue<WrittenValue>>(RootPairComparer.Instance))!;

    private ConcurrentDictionary<object, ConcurrentQueue<object?>> WriteAliases => LazyInitializer.EnsureInitialized(ref _aliases, () => new ConcurrentDictionary<object, ConcurrentQueue<object?>>(RootComparer.Instance))!;

    private ConcurrentDictionary<object, ConcurrentQueue<object>> WriteLinkedParents => LazyInitializer.EnsureInitialized(ref _linkedParents, () => new ConcurrentDictionary<object, ConcurrentQueue<object>>(RootComparer.Instance))!;

    private ConcurrentDictionary<object, object> WriteClientConfigs => LazyInitializer.EnsureInitialized(ref _clientConfigs, () => new ConcurrentDictionary<object, object>(RootComparer.Instance))!;

    private ConcurrentDictionary<object, ConcurrentQueue<IOperation>> WriteStoredValues => LazyInitializer.EnsureInitialized(ref _storedValues, () => new ConcurrentDictionary<object, ConcurrentQueue<IOperation>>(RootComparer.Instance))!;

    private ConcurrentDictionary<object, bool> WriteCancelledSources => LazyInitializer.EnsureInitialized(ref _cancelledSources, () => new ConcurrentDictionary<object, bool>(RootComparer.Instance))!;

    private readonly ConcurrentQueue<IInvocationOperation> _invocations = new();
    private IReadOnlyList<IInvocationOperation>? _orderedInvocations;

    private IReadOnlyList<TimedWait>? _timedWaits;

    public void AddInvocation(IInvocationOperation invocation) => _invocations.Enqueue(invocation);

    /// <summary>Every timed wait in the type, in source order, recognised once for all rules.</summary>
    public IReadOnlyList<TimedWait> TimedWaits =>
        _timedWaits ??= Invocations.Select(invocation => TimedWait.TryCreate(invocation, this)).Where(wait => wait is not null).Select(wait => wait!).ToList();

    /// <summary>
    /// Every call in the type in source order, read once all members have been analyzed: the order operation actions ran in
    /// depends on thread timing, and the first finding at a location wins, so reports must not.
    /// </summary>
    public IReadOnlyList<IInvocationOperation> Invocations =>
        _orderedInvocations ??= _invocations.OrderBy(i => i.Syntax.SyntaxTree.FilePath, StringComparer.Ordinal)
            .ThenBy(i => i.Syntax.SpanStart).ThenBy(i => i.Syntax.Span.Length).ToList();

    public void AddValue(object root, string path, object? value, IOperation source) => AddValue(root, path, new WrittenValue(value, source));

    public void AddValue(object root, string path, WrittenValue value) =>
        WriteValues.GetOrAdd((root, path), _ => new ConcurrentQueue<WrittenValue>()).Enqueue(value);

    public void AddAlias(object target, object? source) => WriteAliases.GetOrAdd(target, _ => new ConcurrentQueue<object?>()).Enqueue(source);

    public void AddLinkedParent(object child, object parent) => WriteLinkedParents.GetOrAdd(child, _ => new ConcurrentQueue<object>()).Enqueue(parent);

    public void SetClientConfig(object client, object config) => WriteClientConfigs.AddOrUpdate(client, config, (_, existing) => RootComparer.Instance.Equals(existing, config) ? existing : Ambiguous.Value);

    /// <summary>Records a value stored in a field or property (a task, a pipeline), so code elsewhere in the type knows what produced it.</summary>
    public void AddStoredValue(object holder, IOperation value) => WriteStoredValues.GetOrAdd(holder, _ => new ConcurrentQueue<IOperation>()).Enqueue(value);

    /// <summary>The one value ever stored in this field or property in this type, or null when there is none or several.</summary>
    public IOperation? StoredValue(object holder) =>
        _storedValues is not null && _storedValues.TryGetValue(holder, out var values) && values.Count == 1 && values.TryPeek(out var value) ? value : null;

    /// <summary>Whether the source or budget is given a timeout anywhere in this type, known or not, directly or through a parent.</summary>
    public bool HasTimeout(object? source, int depth = 0)
    {
        var resolved = Resolve(source);
        if (resolved is null || depth > 8)
        {
            return false;
        }

        return (_values is not null && _values.ContainsKey((resolved, TimeoutSlot))) || LinkedParents(resolved).Any(parent => HasTimeout(parent, depth + 1));
    }

    public void MarkCancelled(object source) => WriteCancelledSources.TryAdd(source, true);

    /// <summary>Whether this type cancels the source somewhere (<c>Cancel()</c>, <c>CancelAsync()</c>), directly or through a source it is linked to.</summary>
    public bool IsCancelled(object? source, int depth = 0)
    {
        var resolved = Resolve(source);
        if (resolved is null || depth > 8)
        {
            return false;
        }

        return _cancelledSources is not null && _cancelledSources.ContainsKey(resolved) || LinkedParents(resolved).Any(parent => IsCancelled(parent, depth + 1));
    }

    /// <summary>The value every write of this member agrees on, or null when there is none, one is unknown, or they differ.</summary>
    public WrittenValue? Get(object? root, string path) => Get(root, path, 0);

    public Duration? GetDuration(object? root, string path) => Get(root, path)?.Value is Duration duration ? duration : null;

    public object? Resolve(object? root) => Resolve(root, 0);

    public object? ConfigOf(object? client)
    {
        var resolved = Resolve(client);
        return resolved is not null && _clientConfigs is not null && _clientConfigs.TryGetValue(resolved, out var config) && config is not Ambiguous ? config : null;
    }

    public IReadOnlyList<object> LinkedParents(object? root)
    {
        var resolved = Resolve(root);
        return resolved is not null && _linkedParents is not null && _linkedParents.TryGetValue(resolved, out var parents) ? parents.ToArray() : Array.Empty<object>();
    }

    /// <summary>Every (root, member) written, in source order of their first write.</summary>
    public IEnumerable<(object Root, string Path)> Keys =>
        (_values ?? Enumerable.Empty<KeyValuePair<(object Root, string Path), ConcurrentQueue<WrittenValue>>>()).Select(pair => (pair.Key, First: pair.Value.Select(w => w.Source.Syntax).OrderBy(n => n.SyntaxTree.FilePath, StringComparer.Ordinal).ThenBy(n => n.SpanStart).First()))
            .OrderBy(entry => entry.First.SyntaxTree.FilePath, StringComparer.Ordinal).ThenBy(entry => entry.First.SpanStart).ThenBy(entry => entry.Key.Path, StringComparer.Ordinal)
            .Select(entry => entry.Key).ToList();

    private WrittenValue? Get(object? root, string path, int depth)
    {
        if (root is null || depth > 8)
        {
            return null;
        }

        if (_values is not null && _values.TryGetValue((root, path), out var writes))
        {
            WrittenValue? agreed = null;
            foreach (var write in writes.OrderBy(w => w.Source.Syntax.SyntaxTree.FilePath, StringComparer.Ordinal).ThenBy(w => w.Source.Syntax.SpanStart))
            {
                if (write.Value is null)
                {
                    return null;
                }

                if (agreed is null)
                {
                    agreed = write;
                }
                else if (!SameValue(agreed.Value, write.Value))
                {
                    return null;
                }
            }

            return agreed;
        }

        return SingleAlias(root) is { } source ? Get(source, path, depth + 1) : null;
    }

    private object? Resolve(object? root, int depth)
    {
        if (root is null || depth > 8)
        {
            return root;
        }

        return SingleAlias(root) is { } source && !(_values?.Keys ?? Enumerable.Empty<(object Root, string Path)>()).Any(key => RootComparer.Instance.Equals(key.Root, root))
            ? Resolve(source, depth + 1)
            : root;
    }

    private object? SingleAlias(object root)
    {
        if (_aliases is null || !_aliases.TryGetValue(root, out var sources))
        {
            return null;
        }

        object? single = null;
        foreach (var source in sources)
        {
            if (source is null || (single is not null && !RootComparer.Instance.Equals(single, source)))
            {
                return null;
            }

            single = source;
        }

        return single;
    }

    private static bool SameValue(object? left, object? right) => left switch
    {
        Duration a => right is Duration b && a.Value == b.Value,
        _ => Equals(left, right),
    };

    private sealed class Ambiguous
    {
        public static readonly Ambiguous Value = new();
    }

    private sealed class RootPairComparer : IEqualityComparer<(object Root, string Path)>
    {
        public static readonly RootPairComparer Instance = new();

        public bool Equals((object Root, string Path) x, (object Root, string Path) y) =>
            string.Equals(x.Path, y.Path, StringComparison.Ordinal) && RootComparer.Instance.Equals(x.Root, y.Root);

        public int GetHashCode((object Root, string Path) obj) =>
            (RootComparer.Instance.GetHashCode(obj.Root) * 397) ^ StringComparer.Ordinal.GetHashCode(obj.Path);
    }
}

/// <summary>
/// One write: a <see cref="Duration"/>, a number, an enum member's name, or null when the value is unknown. Evaluated on first
/// use: most writes in a type are never asked about, and evaluating one can mean reading declarations in other files.
/// </summary>
internal sealed class WrittenValue
{
    private readonly Lazy<object?> _value;

    public WrittenValue(object? value, IOperation source)
        : this(() => value, source)
    {
    }

    public WrittenValue(Func<object?> evaluate, IOperation source)
    {
        _value = new Lazy<object?>(evaluate, LazyThreadSafetyMode.PublicationOnly);
        Source = source;
    }

    public object? Value => _value.Value;

    public IOperation Source { get; }

    public double? Number => Value as double?;

    public string? Name => Value as string;
}
