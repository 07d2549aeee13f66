"""English stop words: function words and question words that carry no topic.

Question words ("what", "how", "much") are included because people phrase every question with
them; left in, they would match nearly any passage and inflate the "answered" signal. Chat
drops apostrophes ("whats", "didnt"), so those spellings are stop words too, and so are its
fillers ("hey", "thanks", "lol", "roughly", "someone"): one of them must not turn an answer into a
refusal.
"""

STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all almost also am among an and any are aren't around
    as at be because been before being below between both but by can cannot could couldn't
    did didn't do does doesn't doing don't down during each either else ever every few for
    from further get gets got had hadn't has hasn't have haven't having he her here hers
    herself him himself his how however i if in into is isn't it its itself just let like ll
    made make makes many may me might more most much must my myself neither no nor not now
    of off often on once only or other others our ours ourselves out over own per quite
    rather re really said same say says shall she should shouldn't since so some such than
    that the their theirs them themselves then there these they this those though through
    thus to too under until up upon us ve very via was wasn't we were weren't what whatever
    when where whether which while who whom whose why will with within without won't would
    wouldn't yet you your yours yourself yourselves tell told know explain describe
    whats whos wheres whens hows whys thats theres im ive dont doesnt didnt isnt wasnt arent
    werent cant couldnt wouldnt shouldnt wont
    lol lmao thanks thank thx ty pls plz please hey hi hello bruh bro guys folks idk tbh btw
    imo ok okay um uh hmm anyone wen wat wut wht hw whr wher wich
    roughly approximately approx exactly basically actually apparently probably someone
    somebody something anything anybody everyone everybody gonna wanna gotta kinda sorta
    """.split()
)
