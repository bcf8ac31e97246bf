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

    // Operation actions for the type's members run concurrently and only append here (lock-free: a lock was contended on two
    // cores, measured); Freeze indexes the records once, when the type's end action runs and nothing writes any more.
    private readonly ConcurrentQueue<Record> _records = new();
    private Dictionary<object, List<object?>>? _aliases;
    private Dictionary<object, List<object>>? _linkedParents;
    private Dictionary<object, object>? _clientConfigs;
    private Dictionary<object, List<IOperation>>? _storedValues;
    private HashSet<object>? _cancelledSources;

    // Built once by Freeze: every member's writes in source order, the roots that have writes, each root's single alias.
    private Dictionary<(object Root, string Path), List<WrittenValue>>? _orderedValues;
    private HashSet<object>? _rootsWithValues;
    private Dictionary<object, object?>? _singleAliases;
    private IReadOnlyList<(object Root, string Path)> _keys = Array.Empty<(object Root, string Path)>();
    private List<IInvocationOperation> _invocations = new();
    private IReadOnlyList<IInvocationOperation>? _orderedInvocations;
    private IReadOnlyList<TimedWait>? _timedWaits;
    private IReadOnlyList<IInvocationOperation>? _callsTakingAToken;
    private List<CallRole> _roles = new();
    private readonly CallRoles _callRoles;

    public TypeTimeoutModel(INamedTypeSymbol type, KnownTypes types, DurationEvaluator evaluator, CallRoles callRoles, RequestTimeouts? requestTimeouts = null, NamedClients? namedClients = null)
    {
        _callRoles = callRoles;
        Type = type;
        Types = types;
        Evaluator = evaluator;
        RequestTimeouts = requestTimeouts;
        NamedClients = namedClients;
    }

    /// <summary>The type whose members this model collected: every call it holds is written in one of them.</summary>
    public INamedTypeSymbol Type { get; }

    public NamedClients? NamedClients { get; }

    public RequestTimeouts? RequestTimeouts { get; }

    public KnownTypes Types { get; }

    public DurationEvaluator Evaluator { get; }

    public void AddInvocation(IInvocationOperation invocation) => _records.Enqueue(new Record(RecordKind.Invocation, invocation, null, null));

    /// <summary>Every timed wait in the type, in source order, recognised once for all rules.</summary>
    public IReadOnlyList<TimedWait> TimedWaits => _timedWaits ??= FindTimedWaits();

    /// <summary>Every call whose callee has a token parameter, in source order: two comparisons start from these.</summary>
    public IReadOnlyList<IInvocationOperation> CallsTakingAToken => _callsTakingAToken ??= Calls(CallRole.TakesAToken);

    private List<TimedWait> FindTimedWaits()
    {
        var waits = new List<TimedWait>();
        foreach (var invocation in Calls(CallRole.MaybeTimedWait))
        {
            if (TimedWait.TryCreate(invocation, this) is { } wait)
            {
                waits.Add(wait);
            }
        }

        return waits;
    }

    /// <summary>
    /// Every call in the type in source order, read once all members have been analyzed: the order operation actions ran in
    /// depends on thread timing, and the first finding at a location wins, so reports must not. Sorted on first use: most
    /// types only ever need the few calls a rule can start from (<see cref="Calls"/>).
    /// </summary>
    public IReadOnlyList<IInvocationOperation> Invocations => _orderedInvocations ??= SourceOrder.Sort(_invocations, call => call.Syntax);

    /// <summary>
    /// The calls a rule can start from, in source order. Each call's roles were looked up once, when the model was frozen (they
    /// are decided once per called method, <see cref="CallRoles"/>); only the calls with the role are sorted, so a rule that looks
    /// for a few method names does not pay for ordering every call.
    /// </summary>
    public IReadOnlyList<IInvocationOperation> Calls(CallRole role)
    {
        List<IInvocationOperation>? matching = null;
        for (var i = 0; i < _roles.Count; i++)
        {
            if ((_roles[i] & role) != 0)
            {
                (matching ??= new List<IInvocationOperation>()).Add(_invocations[i]);
            }
        }

        if (matching is null)
        {
            return Array.Empty<IInvocationOperation>();
        }

        return matching.Count < 2 ? matching : SourceOrder.Sort(matching, call => call.Syntax);
    }

    /// <summary>
    /// Orders what the type's members wrote, once: the rules ask the same members many times, and the order operation actions
    /// ran in depends on thread timing. Called when all of the type's members have been seen.
    /// </summary>
    public void Freeze()
    {
        var invocations = new List<IInvocationOperation>(_records.Count);
        var callRoles = new List<CallRole>(_records.Count);
        Dictionary<(object Root, string Path), List<WrittenValue>>? values = null;
        // Drained, not enumerated: enumerating a concurrent queue snapshots it under a lock and keeps its segments alive.
        while (_records.TryDequeue(out var record))
        {
            switch (record.Kind)
            {
                case RecordKind.Invocation:
                    var invocation = (IInvocationOperation)record.Key;
                    invocations.Add(invocation);
                    callRoles.Add(_callRoles.Of(invocation));
                    break;
                case RecordKind.Value:
                    Append(values ??= new Dictionary<(object Root, string Path), List<WrittenValue>>(RootPairComparer.Instance), (record.Key, record.Path!), (WrittenValue)record.Value!);
                    break;
                case RecordKind.Alias:
                    Append(_aliases ??= new Dictionary<object, List<object?>>(RootComparer.Instance), record.Key, record.Value);
                    break;
                case RecordKind.LinkedParent:
                    Append(_linkedParents ??= new Dictionary<object, List<object>>(RootComparer.Instance), record.Key, record.Value!);
                    break;
                case RecordKind.ClientConfig:
                    var configs = _clientConfigs ??= new Dictionary<object, object>(RootComparer.Instance);
                    configs[record.Key] = configs.TryGetValue(record.Key, out var existing) && !RootComparer.Instance.Equals(existing, record.Value) ? Ambiguous.Value : record.Value!;
                    break;
                case RecordKind.StoredValue:
                    Append(_storedValues ??= new Dictionary<object, List<IOperation>>(RootComparer.Instance), record.Key, (IOperation)record.Value!);
                    break;
                case RecordKind.Cancelled:
                    (_cancelledSources ??= new HashSet<object>(RootComparer.Instance)).Add(record.Key);
                    break;
            }
        }

        _invocations = invocations;
        _roles = callRoles;
        if (values is not null)
        {
            _rootsWithValues = new HashSet<object>(RootComparer.Instance);
            var firsts = new List<((object Root, string Path) Key, SyntaxNode First)>(values.Count);
            foreach (var pair in values)
            {
                // Two writes of one member at one place keep the order they were seen in.
                var writes = pair.Value;
                if (writes.Count > 1)
                {
                    var ordered = SourceOrder.Sort(writes, w => w.Source.Syntax);
                    writes.Clear();
                    writes.AddRange(ordered);
                }

                _rootsWithValues.Add(pair.Key.Root);
                firsts.Add((pair.Key, writes[0].Source.Syntax));
            }

            _orderedValues = values;

            _keys = SourceOrder.Sort(firsts, entry => entry.First, PathOrder.Instance).Select(entry => entry.Key).ToList();
        }

        if (_aliases is not null)
        {
            _singleAliases = new Dictionary<object, object?>(_aliases.Count, RootComparer.Instance);
            foreach (var pair in _aliases)
            {
                object? single = null;
                foreach (var source in pair.Value)
                {
                    if (source is null || (single is not null && !RootComparer.Instance.Equals(single, source)))
                    {
                        single = null;
                        break;
                    }

                    single = source;
                }

                _singleAliases.Add(pair.Key, single);
            }
        }
    }

    public void AddValue(object root, string path, object? value, IOperation source) => AddValue(root, path, new WrittenValue(value, source));

    public void AddValue(object root, string path, WrittenValue value) => _records.Enqueue(new Record(RecordKind.Value, root, path, value));

    public void AddAlias(object target, object? source) => _records.Enqueue(new Record(RecordKind.Alias, target, null, source));

    public void AddLinkedParent(object child, object parent) => _records.Enqueue(new Record(RecordKind.LinkedParent, child, null, parent));

    public void SetClientConfig(object client, object config) => _records.Enqueue(new Record(RecordKind.ClientConfig, client, null, config));

    /// <summary>Records a value stored in a field or property (a task, a pipeline), so code elsewhere in the type knows what produced it.</summary>
    public void AddStoredValue(object holder, IOperation value) => _records.Enqueue(new Record(RecordKind.StoredValue, holder, null, value));

    private static void Append<TKey, TValue>(Dictionary<TKey, List<TValue>> lists, TKey key, TValue value)
        where TKey : notnull
    {
        if (!lists.TryGetValue(key, out var list))
        {
            lists.Add(key, list = new List<TValue>(1));
        }

        list.Add(value);
    }

    /// <summary>The one value ever stored in this field or property in this type, or null when there is none or several.</summary>
    public IOperation? StoredValue(object holder) =>
        _storedValues is not null && _storedValues.TryGetValue(holder, out var values) && values.Count == 1 ? values[0] : null;

    /// <summary>Whether the source or budget is given a timeout anywhere in this type, known or not, directly or through a parent.</summary>
    public bool HasTimeout(object? source, int depth = 0)
    {
        var resolved = Resolve(source);
        if (resolved is null || depth > 8)
        {
            return false;
        }

        return (_orderedValues is not null && _orderedValues.ContainsKey((resolved, TimeoutSlot))) || LinkedParents(resolved).Any(parent => HasTimeout(parent, depth + 1));
    }

    public void MarkCancelled(object source) => _records.Enqueue(new Record(RecordKind.Cancelled, source, null, null));

    /// <summary>Whether this type cancels the source somewhere (<c>Cancel()</c>, <c>CancelAsync()</c>), directly or through a source it is linked to.</summary>
    public bool IsCancelled(object? source, int depth = 0)
    {
        var resolved = Resolve(source);
        if (resolved is null || depth > 8)
        {
            return false;
        }

        return _cancelledSources is not null && _cancelledSources.Contains(resolved) || LinkedParents(resolved).Any(parent => IsCancelled(parent, depth + 1));
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
        return resolved is not null && _linkedParents is not null && _linkedParents.TryGetValue(resolved, out var parents) ? parents : Array.Empty<object>();
    }

    /// <summary>Every (root, member) written, in source order of their first write.</summary>
    public IReadOnlyList<(object Root, string Path)> Keys => _keys;

    private WrittenValue? Get(object? root, string path, int depth)
    {
        if (root is null || depth > 8)
        {
            return null;
        }

        if (_orderedValues is not null && _orderedValues.TryGetValue((root, path), out var writes))
        {
            WrittenValue? agreed = null;
            foreach (var write in writes)
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

        return SingleAlias(root) is { } source && _rootsWithValues?.Contains(root) != true
            ? Resolve(source, depth + 1)
            : root;
    }

    private object? SingleAlias(object root) =>
        _singleAliases is not null && _singleAliases.TryGetValue(root, out var single) ? single : null;

    private static bool SameValue(object? left, object? right) => left switch
    {
        Duration a => right is Duration b && a.Value == b.Value,
        _ => Equals(left, right),
    };

    private enum RecordKind
    {
        Invocation,
        Value,
        Alias,
        LinkedParent,
        ClientConfig,
        StoredValue,
        Cancelled,
    }

    /// <summary>One fact an operation action saw: the kind says what <see cref="Key"/>, <see cref="Path"/> and <see cref="Value"/> are.</summary>
    private readonly struct Record
    {
        public readonly RecordKind Kind;
        public readonly object Key;
        public readonly string? Path;
        public readonly object? Value;

        public Record(RecordKind kind, object key, string? path, object? value) => (Kind, Key, Path, Value) = (kind, key, path, value);
    }

    private sealed class Ambiguous
    {
        public static readonly Ambiguous Value = new();
    }

    private sealed class PathOrder : IComparer<((object Root, string Path) Key, SyntaxNode First)>
    {
        public static readonly PathOrder Instance = new();

        public int Compare(((object Root, string Path) Key, SyntaxNode First) x, ((object Root, string Path) Key, SyntaxNode First) y) =>
            string.CompareOrdinal(x.Key.Path, y.Key.Path);
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
    private Func<object?>? _evaluate;
    private object? _value;

    public WrittenValue(object? value, IOperation source)
    {
        _value = value;
        Source = source;
    }

    public WrittenValue(Func<object?> evaluate, IOperation source)
    {
        _evaluate = evaluate;
        Source = source;
    }

    /// <summary>
    /// The value, evaluated on first read. Two threads that race may both evaluate it, to the same result: cheaper than a
    /// <see cref="Lazy{T}"/> per write, and a type's model is read by one thread in practice.
    /// </summary>
    public object? Value
    {
        get
        {
            if (Volatile.Read(ref _evaluate) is { } evaluate)
            {
                _value = evaluate();
                Volatile.Write(ref _evaluate, null);
            }

            return _value;
        }
    }

    public IOperation Source { get; }

    public double? Number => Value as double?;

    public string? Name => Value as string;
}
