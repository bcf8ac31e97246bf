namespace TimeoutBudget;

/// <summary>
/// One declared tree of timeouts for a whole stack — load balancer, proxy, worker, orchestrator, SDK attempts — checked
/// so that every layer's worst case fits inside its parent minus a margin, and usable to open the runtime budgets too.
/// </summary>
/// <remarks>
/// <para>JSON form: <c>{ "layer": "proxy", "timeout": "120s", "margin": "5%", "reserve": "2s", "retry": { "maxAttempts": 3,
/// "delay": "1s", "backoff": "exponential", "maxDelay": "10s" }, "children": [ … ] }</c>. Only <c>layer</c> and
/// <c>timeout</c> are required; <c>"timeout": "none"</c> declares a layer with no timeout, which validation reports.</para>
/// <para>This file is compiled into the analyzer as well (rule TB0007), so it stays netstandard2.0 and free of I/O.</para>
/// </remarks>
public sealed partial class BudgetPlan
{
    /// <summary>The longest layer name accepted.</summary>
    public const int MaxLayerNameLength = 128;

    /// <summary>
    /// How many layers a plan read from JSON may nest, the root counting as the first: real stacks have a handful, and the
    /// limit keeps a hostile plan from exhausting the stack of whoever validates it (the analyzer runs inside the compiler).
    /// </summary>
    public const int MaxNestedLayers = 32;

    private BudgetPlan(BudgetPlanNode root) => Root = root;

    /// <summary>The outermost layer.</summary>
    public BudgetPlanNode Root { get; }

    /// <summary>Every layer, parents before children.</summary>
    public IEnumerable<BudgetPlanNode> Nodes
    {
        get
        {
            var pending = new Stack<BudgetPlanNode>();
            pending.Push(Root);
            while (pending.Count > 0)
            {
                var node = pending.Pop();
                yield return node;
                for (var i = node.Children.Count - 1; i >= 0; i--)
                {
                    pending.Push(node.Children[i]);
                }
            }
        }
    }

    /// <summary>Reads a plan from JSON.</summary>
    /// <param name="json">The plan's JSON text.</param>
    /// <returns>The plan; call <see cref="Validate"/> to check it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is null.</exception>
    /// <exception cref="BudgetPlanException">The JSON is malformed, a duration is invalid, or a property is missing, unknown or duplicated; the message quotes the value and gives line and column.</exception>
    public static BudgetPlan Parse(string json)
    {
        if (json is null)
        {
            throw new ArgumentNullException(nameof(json));
        }

        var document = PlanJson.Parse(json);
        return new BudgetPlan(ReadNode(document, parent: null, nesting: 1));
    }

    /// <summary>Builds a plan in code.</summary>
    /// <param name="layer">The root layer's name.</param>
    /// <param name="timeout">The root layer's timeout.</param>
    /// <param name="configure">Adds margin, reserve, retries and children to the root.</param>
    /// <returns>The plan.</returns>
    /// <exception cref="ArgumentException">A layer name or duration is invalid.</exception>
    public static BudgetPlan Create(string layer, TimeSpan timeout, Action<BudgetPlanBuilder>? configure = null)
    {
        var builder = new BudgetPlanBuilder(layer, timeout);
        configure?.Invoke(builder);
        return new BudgetPlan(builder.BuildNode(parent: null));
    }

    /// <summary>Finds a layer by its path, e.g. <c>"proxy/worker/workflow"</c>.</summary>
    /// <param name="path">The slash-separated path from the root.</param>
    /// <returns>The layer, or <see langword="null"/>.</returns>
    public BudgetPlanNode? Find(string path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        var parts = path.Split('/');
        if (!string.Equals(parts[0], Root.Layer, StringComparison.Ordinal))
        {
            return null;
        }

        var node = Root;
        for (var i = 1; i < parts.Length && node is not null; i++)
        {
            node = node.FindChild(parts[i]);
        }

        return node;
    }

    /// <summary>
    /// Checks every layer against its parent and reports every violation, each with its path and arithmetic: a child's
    /// worst case (attempts × timeout + delays) must fit in its parent's timeout minus reserve and margin, and may not equal it.
    /// </summary>
    /// <returns>Every violation; empty when the plan is aligned.</returns>
    public IReadOnlyList<BudgetViolation> Validate()
    {
        var violations = new List<BudgetViolation>();
        if (Root.IsUnbounded)
        {
            Add(violations, Root, Root.TimeoutPosition,
                $"{Root.Layer} has no timeout at all: nothing bounds the work under it, which can stay \"running\" forever. Give it a timeout.");
        }
        else if (Root.Timeout == TimeSpan.Zero)
        {
            Add(violations, Root, Root.TimeoutPosition, $"{Root.Layer} has a zero timeout: it expires before any work starts.");
        }

        Visit(Root, Root.IsUnbounded ? null : Root.Timeout, violations);
        return violations;
    }

    private static void Visit(BudgetPlanNode node, TimeSpan? effective, List<BudgetViolation> violations)
    {
        if (!node.IsUnbounded && node.Reserve > TimeSpan.Zero && node.Reserve >= node.Timeout)
        {
            Add(violations, node, node.ReservePosition,
                $"{node.Layer}: reserve {DurationText.Format(node.Reserve)} takes all of its {DurationText.Format(node.Timeout)}, leaving no time for its children.");
        }

        foreach (var child in node.Children)
        {
            var childEffective = CheckChild(node, child, effective, violations);
            Visit(child, childEffective, violations);
        }
    }

    private static TimeSpan? CheckChild(BudgetPlanNode parent, BudgetPlanNode child, TimeSpan? parentEffective, List<BudgetViolation> violations)
    {
        var declaredLimit = parent.IsUnbounded ? (TimeSpan?)null : Limit(parent, parent.Timeout, out _, out _);
        var effectiveLimit = parentEffective is { } eff ? Limit(parent, eff, out _, out _) : (TimeSpan?)null;

        if (child.IsUnbounded)
        {
            var message = parent.IsUnbounded && parentEffective is null
                ? $"{child.Layer} has no timeout, and neither has any layer above it: it can hang forever."
                : $"{child.Layer} has no timeout, so it can outlive {parent.Layer} ({DurationText.Format(parentEffective ?? parent.Timeout)}) and keep running after {parent.Layer} gave up; give it a timeout of at most {DurationText.Format(effectiveLimit ?? declaredLimit ?? TimeSpan.Zero)}.";
            Add(violations, child, child.TimeoutPosition, message);
            return effectiveLimit;
        }

        if (child.Timeout == TimeSpan.Zero)
        {
            Add(violations, child, child.TimeoutPosition, $"{child.Layer} has a zero timeout: it expires before any work starts.");
            return TimeSpan.Zero;
        }

        var worst = child.WorstCase;
        var arithmetic = child.Retry is { MaxAttempts: > 1 } retry ? retry.DescribeWorstCase(child.Timeout) : DurationText.Format(child.Timeout);

        if (!parent.IsUnbounded)
        {
            var window = Window(parent, parent.Timeout);
            var limit = Limit(parent, parent.Timeout, out var reserve, out var margin);
            if (worst > limit || worst >= window)
            {
                var equal = worst == parent.Timeout ? " (equal is not before)" : string.Empty;
                Add(violations, child, child.TimeoutPosition,
                    $"{child.Layer}: {arithmetic} does not fit in {parent.Layer} {DurationText.Format(parent.Timeout)}{Deductions(reserve, margin)}{equal}; inner timeouts must expire before the outer ones that contain them.");
                return Min(child.Timeout, effectiveLimit ?? limit);
            }
        }

        if (parentEffective is { } effectiveParent && effectiveLimit is { } clampedLimit && effectiveParent < parent.Timeout && worst > clampedLimit)
        {
            var reserve = parent.Reserve;
            var margin = parent.EffectiveMargin.For(Window(parent, effectiveParent));
            Add(violations, child, child.TimeoutPosition,
                $"{child.Layer}: {arithmetic} fits in {parent.Layer} {DurationText.Format(parent.Timeout)} as declared, but {parent.Layer} itself gets only {DurationText.Format(effectiveParent)} from the layers above it, and {DurationText.Format(effectiveParent)}{Deductions(reserve, margin)} = {DurationText.Format(clampedLimit)}.");
        }

        return effectiveLimit is { } bound ? Min(child.Timeout, bound) : child.Timeout;
    }

    private static TimeSpan Window(BudgetPlanNode parent, TimeSpan parentTimeout) =>
        parentTimeout - parent.Reserve > TimeSpan.Zero ? parentTimeout - parent.Reserve : TimeSpan.Zero;

    private static TimeSpan Limit(BudgetPlanNode parent, TimeSpan parentTimeout, out TimeSpan reserve, out TimeSpan margin)
    {
        reserve = parent.Reserve;
        var window = Window(parent, parentTimeout);
        margin = parent.EffectiveMargin.For(window);
        return window - margin;
    }

    private static string Deductions(TimeSpan reserve, TimeSpan margin) =>
        (reserve > TimeSpan.Zero ? $" − reserve {DurationText.Format(reserve)}" : string.Empty) +
        $" − margin {DurationText.Format(margin)}";

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static void Add(List<BudgetViolation> violations, BudgetPlanNode node, SourcePosition at, string message)
    {
        var position = at.Line > 0 ? at : node.NodePosition;
        violations.Add(new BudgetViolation(node.Path, message, position.Line, position.Column, position.Length));
    }

    private static BudgetPlanNode ReadNode(PlanJsonValue json, BudgetPlanNode? parent, int nesting)
    {
        if (nesting > MaxNestedLayers)
        {
            throw Error(json, $"The plan nests deeper than {MaxNestedLayers} layers: this layer, under {DurationText.Quote(parent!.Layer)}, is layer {nesting}");
        }

        if (json.Kind != PlanJsonKind.Object)
        {
            throw Error(json, $"Expected a layer object such as {{ \"layer\": \"api\", \"timeout\": \"20s\" }} but found {json.Describe()}");
        }

        PlanJsonProperty? layer = null, timeout = null, margin = null, reserve = null, retry = null, children = null;
        foreach (var property in json.Properties)
        {
            switch (property.Name)
            {
                case "layer": layer = property; break;
                case "timeout": timeout = property; break;
                case "margin": margin = property; break;
                case "reserve": reserve = property; break;
                case "retry": retry = property; break;
                case "children": children = property; break;
                case "description": break;
                default:
                    if (!property.Name.StartsWith("$", StringComparison.Ordinal))
                    {
                        throw new BudgetPlanException(
                            $"Unknown property {DurationText.Quote(property.Name)} (line {property.Line}, column {property.Column}); a layer has layer, timeout, margin, reserve, retry, children and description.",
                            property.Line, property.Column, property.Name.Length + 2);
                    }

                    break;
            }
        }

        if (layer is null)
        {
            throw Error(json, "A layer object has no \"layer\" name");
        }

        var name = ReadString(layer.Value, "layer");
        var nameError = CheckLayerName(name);
        if (nameError is not null)
        {
            throw Error(layer.Value, nameError);
        }

        if (timeout is null)
        {
            throw Error(json, $"Layer {DurationText.Quote(name)} has no \"timeout\"; write one such as \"30s\", or \"none\" for a layer that really has none");
        }

        var timeoutValue = ReadDuration(timeout.Value, "timeout", allowInfinite: true);
        var marginValue = margin is null ? null : ReadMargin(margin.Value);
        var reserveValue = reserve is null ? TimeSpan.Zero : ReadDuration(reserve.Value, "reserve", allowInfinite: false);
        var retryValue = retry is null ? null : ReadRetry(retry.Value);

        var node = new BudgetPlanNode(name, timeoutValue, marginValue, reserveValue, retryValue, parent)
        {
            NodePosition = Position(json, 1),
            TimeoutPosition = Position(timeout.Value, timeout.Value.Length),
            ReservePosition = reserve is null ? default : Position(reserve.Value, reserve.Value.Length),
        };

        if (children is not null)
        {
            if (children.Value.Kind != PlanJsonKind.Array)
            {
                throw Error(children.Value, $"\"children\" of {DurationText.Quote(name)} must be an array of layers but is {children.Value.Describe()}");
            }

            foreach (var item in children.Value.Items)
            {
                var child = ReadNode(item, node, nesting + 1);
                if (node.FindChild(child.Layer) is not null)
                {
                    throw Error(item, $"Layer {DurationText.Quote(name)} has two children named {DurationText.Quote(child.Layer)}; sibling names must differ so paths are unique");
                }

                node.AddChild(child);
            }
        }

        return node;
    }

    private static RetrySchedule ReadRetry(PlanJsonValue json)
    {
        if (json.Kind != PlanJsonKind.Object)
        {
            throw Error(json, $"\"retry\" must be an object such as {{ \"maxAttempts\": 3, \"delay\": \"1s\" }} but is {json.Describe()}");
        }

        int? attempts = null;
        var delay = TimeSpan.Zero;
        var backoff = RetryBackoff.Constant;
        TimeSpan? maxDelay = null;
        foreach (var property in json.Properties)
        {
            switch (property.Name)
            {
                case "maxAttempts":
                    var value = property.Value;
                    if (value.Kind != PlanJsonKind.Number || !int.TryParse(value.Text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var count) ||
                        count < 1 || count > RetrySchedule.MaxAttemptsLimit)
                    {
                        throw Error(value, $"\"maxAttempts\" counts every attempt including the first and must be a whole number from 1 to {RetrySchedule.MaxAttemptsLimit}, not {value.Describe()}");
                    }

                    attempts = count;
                    break;
                case "delay":
                    delay = ReadDuration(property.Value, "delay", allowInfinite: false);
                    break;
                case "maxDelay":
                    maxDelay = ReadDuration(property.Value, "maxDelay", allowInfinite: false);
                    break;
                case "backoff":
                    var text = ReadString(property.Value, "backoff");
                    backoff = text.ToLowerInvariant() switch
                    {
                        "constant" => RetryBackoff.Constant,
                        "linear" => RetryBackoff.Linear,
                        "exponential" => RetryBackoff.Exponential,
                        _ => throw Error(property.Value, $"\"backoff\" must be \"constant\", \"linear\" or \"exponential\", not {DurationText.Quote(text)}"),
                    };
                    break;
                default:
                    throw new BudgetPlanException(
                        $"Unknown retry property {DurationText.Quote(property.Name)} (line {property.Line}, column {property.Column}); retry has maxAttempts, delay, backoff and maxDelay.",
                        property.Line, property.Column, property.Name.Length + 2);
            }
        }

        if (attempts is null)
        {
            throw Error(json, "\"retry\" needs \"maxAttempts\" (every attempt including the first)");
        }

        return new RetrySchedule(attempts.Value, delay, backoff, maxDelay);
    }

    private static BudgetMargin ReadMargin(PlanJsonValue json)
    {
        var text = ReadString(json, "margin");
        if (!BudgetMargin.TryParse(text, out var margin, out var error))
        {
            throw Error(json, error.TrimEnd('.'));
        }

        return margin;
    }

    private static TimeSpan ReadDuration(PlanJsonValue json, string property, bool allowInfinite)
    {
        if (json.Kind == PlanJsonKind.Number)
        {
            throw Error(json, $"\"{property}\" is the bare number {json.Text}; write it with a unit, such as \"{json.Text}s\" or \"{json.Text}ms\", so nobody has to guess");
        }

        var text = ReadString(json, property);
        if (!DurationText.TryParse(text, allowInfinite, out var value, out var error))
        {
            throw Error(json, $"\"{property}\": {error.TrimEnd('.')}");
        }

        return value;
    }

    private static string ReadString(PlanJsonValue json, string property)
    {
        if (json.Kind != PlanJsonKind.String)
        {
            throw Error(json, $"\"{property}\" must be a string but is {json.Describe()}");
        }

        return json.Text;
    }

#if NET8_0_OR_GREATER
    // '/' and what char.IsControl calls a control character: U+0000–U+001F and U+007F–U+009F.
    private static readonly System.Buffers.SearchValues<char> ForbiddenInLayerName = System.Buffers.SearchValues.Create(
        "/" + new string(Enumerable.Range(0, 0x20).Concat(Enumerable.Range(0x7F, 0x21)).Select(c => (char)c).ToArray()));
#endif

    internal static string? CheckLayerName(string? name)
    {
        if (name is null || string.IsNullOrWhiteSpace(name))
        {
            return "A layer name must not be empty";
        }

        if (name.Length > MaxLayerNameLength)
        {
            return $"The layer name {DurationText.Quote(name)} is longer than {MaxLayerNameLength} characters";
        }

#if NET8_0_OR_GREATER
        // Every budget opened checks its name: one vectorized search instead of a test per character.
        if (name.AsSpan().ContainsAny(ForbiddenInLayerName))
        {
            return $"The layer name {DurationText.Quote(name)} contains '/' or a control character; '/' separates layers in a path";
        }
#else
        foreach (var c in name)
        {
            if (c == '/' || char.IsControl(c))
            {
                return $"The layer name {DurationText.Quote(name)} contains '/' or a control character; '/' separates layers in a path";
            }
        }
#endif

        return null;
    }

    private static SourcePosition Position(PlanJsonValue json, int length) => new(json.Line, json.Column, length);

    private static BudgetPlanException Error(PlanJsonValue at, string message) =>
        new($"{message} (line {at.Line}, column {at.Column}).", at.Line, at.Column, at.Kind is PlanJsonKind.Object or PlanJsonKind.Array ? 1 : at.Length);
}
