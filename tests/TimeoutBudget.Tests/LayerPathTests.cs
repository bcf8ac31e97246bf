namespace TimeoutBudget.Tests;

/// <summary>Exact limits of <see cref="LayerPath"/>: what a configured name may be and what a peer's path is cut to (found untested by mutation testing).</summary>
public sealed class LayerPathTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void An_empty_layer_name_is_refused_naming_the_parameter(string? layer)
    {
        var error = Assert.Throws<ArgumentException>(() => LayerPath.ThrowIfInvalid(layer, "name"));
        Assert.Equal("name", error.ParamName);
        Assert.StartsWith("A layer name must not be empty.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_layer_name_of_exactly_the_maximum_length_is_accepted_and_one_more_is_refused()
    {
        LayerPath.ThrowIfInvalid(new string('a', BudgetPlan.MaxLayerNameLength), "layer");

        var error = Assert.Throws<ArgumentException>(() => LayerPath.ThrowIfInvalid(new string('a', BudgetPlan.MaxLayerNameLength + 1), "layer"));
        Assert.Equal("layer", error.ParamName);
        Assert.Contains("is longer than 128 characters.", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a\tb")]
    [InlineData("db\n")]
    [InlineData("/db")]
    public void A_layer_name_with_a_slash_or_control_character_is_refused(string layer)
    {
        var error = Assert.Throws<ArgumentException>(() => LayerPath.ThrowIfInvalid(layer, "layer"));
        Assert.Contains("contains '/' or a control character; '/' separates layers in a path.", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("db")]
    [InlineData("config-python")]
    [InlineData("ü ber")]
    public void Ordinary_layer_names_are_accepted(string layer)
    {
        LayerPath.ThrowIfInvalid(layer, "layer");
        Assert.Null(BudgetPlan.CheckLayerName(layer));
    }

    [Fact]
    public void Exactly_the_slash_and_the_control_characters_are_refused_anywhere_in_a_name()
    {
        for (var c = '\0'; c < '\u0200'; c++)
        {
            var refused = c == '/' || char.IsControl(c);
            foreach (var layer in new[] { c + "db", "d" + c + "b", "db" + c })
            {
                // "db" around it: never empty or blank, so the only reason to refuse is the character itself.
                var error = BudgetPlan.CheckLayerName(layer);
                Assert.True(refused == error is not null, $"U+{(int)c:X4} in a name: {error ?? "accepted"}");
            }
        }
    }

    [Fact]
    public void LastSegment_names_the_parameter_when_null()
    {
        var error = Assert.Throws<ArgumentNullException>(() => LayerPath.LastSegment(null!));
        Assert.Equal("path", error.ParamName);
    }

    [Fact]
    public void LastSegment_of_an_empty_path_is_empty() => Assert.Equal(string.Empty, LayerPath.LastSegment(string.Empty));

    [Theory]
    [InlineData(" ", " ")]
    [InlineData("~", "~")]
    [InlineData("a b", "a b")]
    [InlineData("\u001F", null)]
    [InlineData("a\u007F", null)]
    [InlineData("a\u0080", null)]
    public void SanitizeRemote_accepts_exactly_space_to_tilde_inside_the_path(string inner, string? expected)
    {
        var path = "x" + inner + "y";
        Assert.Equal(expected is null ? null : "x" + expected + "y", LayerPath.SanitizeRemote(path));
    }

    [Fact]
    public void SanitizeRemote_trims_before_cutting_and_checks_only_what_it_keeps()
    {
        var cut = new string('a', LayerPath.MaxRemotePathLength) + "b\u0001";
        Assert.Equal(new string('a', LayerPath.MaxRemotePathLength), LayerPath.SanitizeRemote(cut));

        var padded = "   " + new string('a', LayerPath.MaxRemotePathLength) + "   ";
        Assert.Equal(new string('a', LayerPath.MaxRemotePathLength), LayerPath.SanitizeRemote(padded));
    }
}
