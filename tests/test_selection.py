"""Selection model: browser-like history, forgetting removed features."""

from zjmap.core.selection import Selection


def test_back_and_forward_walk_the_history():
    s = Selection()
    seen = []
    s.subscribe(lambda st: seen.append(st.ids))
    s.select("a")
    s.select("b")
    s.select_place("unit:1", ["c", "d"])
    assert s.state.place == "unit:1" and s.state.primary == "unit:1"
    assert s.back() and s.state.ids == ("b",)
    assert s.back() and s.state.ids == ("a",)
    assert s.forward() and s.state.ids == ("b",)
    # a new selection cuts off the forward history, like a browser
    s.select("e")
    assert not s.can_go_forward()
    assert s.back() and s.state.ids == ("b",)
    assert seen[-1] == ("b",)


def test_selecting_the_same_thing_twice_adds_no_history():
    s = Selection()
    s.select("a")
    s.select("a")
    assert s.back() and not s.state
    assert not s.back()


def test_clear_is_a_step_and_forget_drops_ghosts():
    s = Selection()
    s.select("a", "b")
    s.clear()
    assert not s.state
    s.back()
    s.forget({"a"})
    assert s.state.ids == ("b",)
