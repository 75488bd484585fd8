# ruff: noqa: RUF001 - text in many scripts, look-alike characters included
"""Multilingual text made here (no download): short passages in 40 languages and scripts, and sentences drawn from them.

`PASSAGES` holds a few sentences per language, written for this kit: Latin scripts with accents (Vietnamese with
its stacked marks, Yoruba with combining tones), Cyrillic, Greek, Armenian, Georgian, Hebrew, Arabic and Persian
(with the zero-width non-joiner), Devanagari, Bengali, Tamil, Telugu, Thai, Khmer, Amharic, Chinese, Japanese and
Korean (and a few CJK Extension ideographs), with digits, punctuation and emoji. `multilingual_texts` draws any
number of sentences from them: words of one language picked with Zipf-like frequencies (so common words repeat, as
in real text), sometimes with an English word, a number or a misspelt word mixed in, so the vocabulary keeps
growing with the number of texts, as real text does.
"""

from __future__ import annotations

import random

PASSAGES: dict[str, str] = {
    "en": (
        "The quick brown fox jumps over the lazy dog. A man is playing a large flute while the children sing. "
        "Scientists announced on Tuesday that the new telescope had found water vapour around a distant planet. "
        "Please send the report before the meeting starts at nine o'clock tomorrow morning."
    ),
    "de": (
        "Der schnelle braune Fuchs springt über den faulen Hund. Die Straßenbahn fährt heute nicht, weil die "
        "Oberleitung beschädigt ist. Größere Änderungen müssen vom Ausschuss genehmigt werden. Übermorgen "
        "beginnt das Oktoberfest in München."
    ),
    "fr": (
        "Le renard brun rapide saute par-dessus le chien paresseux. L'été dernier, nous sommes allés à la mer "
        "près de Marseille. Où est la bibliothèque municipale ? Les élèves ont déjà reçu leurs résultats, "
        "et ça s'est très bien passé pour la plupart d'entre eux."
    ),
    "es": (
        "El rápido zorro marrón salta sobre el perro perezoso. ¿Dónde está la estación de tren más cercana? "
        "Mañana por la mañana iremos al mercado a comprar pimientos, cebollas y limón. ¡Qué día tan bonito!"
    ),
    "pt": (
        "A raposa marrom rápida pula sobre o cão preguiçoso. Não há nada mais importante do que a educação das "
        "crianças. A exposição começará às dez horas no salão principal da câmara municipal."
    ),
    "it": (
        "La volpe marrone veloce salta sopra il cane pigro. Perché non vieni con noi al cinema stasera? Il "
        "governo ha approvato la nuova legge sull'energia rinnovabile dopo un lungo dibattito."
    ),
    "nl": (
        "De snelle bruine vos springt over de luie hond. Het regent al drie dagen in Amsterdam, maar morgen "
        "wordt het zonnig. Wij gaan op vakantie naar België en Frankrijk."
    ),
    "sv": (
        "Den snabba bruna räven hoppar över den lata hunden. Vi åker till skärgården i sommar och äter "
        "jordgubbar på bryggan. Även små barn kan lära sig simma."
    ),
    "fi": (
        "Nopea ruskea kettu hyppää laiskan koiran yli. Järvellä on kylmää, mutta sauna lämmittää mukavasti. "
        "Ylioppilaskirjoitukset alkavat ensi viikolla kaikissa lukioissa."
    ),
    "pl": (
        "Szybki brązowy lis przeskakuje nad leniwym psem. Zażółć gęślą jaźń, mówi każdy, kto testuje polskie "
        "znaki. Wczoraj w Łodzi padał śnieg, a dziś świeci słońce."
    ),
    "cs": (
        "Příliš žluťoučký kůň úpěl ďábelské ódy. Vlak do Brna odjíždí ve čtvrt na osm z hlavního nádraží. "
        "Děti si hrají na zahradě u babičky."
    ),
    "hu": (
        "Árvíztűrő tükörfúrógép. A gyors barna róka átugrik a lusta kutya felett. Holnap a Dunán hajókázunk "
        "Budapesttől Szentendréig."
    ),
    "ro": (
        "Vulpea maro și rapidă sare peste câinele leneș. Știința și tehnologia se dezvoltă foarte repede în "
        "țara noastră. Mâine vom vizita mănăstirile din Bucovina."
    ),
    "tr": (
        "Hızlı kahverengi tilki tembel köpeğin üzerinden atlar. İstanbul'da boğaz kıyısında çay içmek çok "
        "güzeldir. Öğrenciler sınavdan önce çalışmalı. Iğdır ve Şırnak doğuda."
    ),
    "vi": (
        "Con cáo nâu nhanh nhẹn nhảy qua con chó lười biếng. Tiếng Việt có nhiều dấu thanh điệu như sắc, huyền, "
        "hỏi, ngã và nặng. Hà Nội là thủ đô của nước Cộng hòa Xã hội chủ nghĩa Việt Nam."
    ),
    "yo": (
        "Ọmọ náà ń lọ sí ilé ìwé lójoojúmọ́. E\u0301 ku\u0300 ìròlẹ́, ṣé àlàáfíà ni? Àwọn àgbẹ̀ ń gbin "
        "iṣu àti àgbàdo ní oko."
    ),
    "sw": (
        "Mbweha mwepesi wa kahawia anaruka juu ya mbwa mvivu. Watoto wanacheza mpira uwanjani kila jioni. "
        "Tutasafiri kwenda Mombasa wiki ijayo."
    ),
    "id": (
        "Rubah coklat yang cepat melompati anjing yang malas. Kami akan pergi ke pasar besok pagi untuk "
        "membeli sayur dan buah-buahan segar."
    ),
    "ru": (
        "Съешь же ещё этих мягких французских булок, да выпей чаю. В Москве сегодня идёт снег, а в Сочи "
        "тепло. Учёные объявили о новом открытии в области физики."
    ),
    "uk": (
        "Чуєш їх, доцю, га? Кумедна ж ти, прощайся без ґольфів! Київ є столицею України, а Львів славиться "
        "своєю кавою. Ґанок і подвір'я були чисті."
    ),
    "bg": ("Бързата кафява лисица прескача мързеливото куче. Утре ще ходим на планина, ако времето е хубаво."),
    "el": (
        "Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο. Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Η Αθήνα "
        "είναι η πρωτεύουσα της Ελλάδας και έχει πολλά αρχαία μνημεία."
    ),
    "hy": ("Արագ շագանակագույն աղվեսը ցատկում է ծույլ շան վրայով։ Երևանը Հայաստանի մայրաքաղաքն է։"),
    "ka": ("სწრაფი ყავისფერი მელა ხტება ზარმაც ძაღლზე. თბილისი საქართველოს დედაქალაქია და ძალიან ლამაზია."),
    "he": ("השועל החום המהיר קופץ מעל הכלב העצלן. מחר נלך לים בתל אביב אם יהיה מזג אוויר טוב. שָׁלוֹם עֲלֵיכֶם, מַה שְּׁלוֹמְךָ?"),
    "ar": (
        "الثعلب البني السريع يقفز فوق الكلب الكسول. ذهبنا إلى السوق يوم الجمعة واشترينا الخبز والتمر. "
        "اللُّغَةُ العَرَبِيَّةُ جَمِيلَةٌ جِدًّا، وَيَتَكَلَّمُهَا المَلَايِينُ. ﷺ ٱلْحَمْدُ ١٢٣٤"
    ),
    "fa": (
        "روباه قهوه\u200cای سریع از روی سگ تنبل می\u200cپرد. ما فردا به کتابخانه\u200cی مرکزی شهر می\u200cرویم. "
        "۱۴۰۲ سال خوبی بود."
    ),
    "ur": ("تیز بھوری لومڑی سست کتے کے اوپر سے چھلانگ لگاتی ہے۔ کل ہم لاہور جائیں گے۔"),
    "hi": (
        "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है। कल हम दिल्ली में अपने दोस्तों से मिलेंगे। "
        "विज्ञान और प्रौद्योगिकी ने हमारे जीवन को बदल दिया है। २०२४ में चुनाव हुए।"
    ),
    "mr": ("जलद तपकिरी कोल्हा आळशी कुत्र्यावरून उडी मारतो. पुण्यात आज पाऊस पडत आहे."),
    "bn": ("দ্রুত বাদামী শিয়াল অলস কুকুরের উপর দিয়ে লাফ দেয়। আমরা আগামীকাল ঢাকায় যাব। রবীন্দ্রনাথ ঠাকুর নোবেল পুরস্কার পেয়েছিলেন।"),
    "ta": ("வேகமான பழுப்பு நரி சோம்பேறி நாயின் மேல் குதிக்கிறது. சென்னையில் இன்று வெயில் அதிகம். தமிழ் மிகவும் பழமையான மொழி."),
    "te": ("వేగవంతమైన గోధుమ రంగు నక్క సోమరి కుక్క మీదుగా దూకుతుంది. హైదరాబాద్ తెలంగాణ రాజధాని. తెలుగు భాష చాలా మధురమైనది. ౘౙ ౚ"),
    "th": ("สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ วันนี้อากาศที่กรุงเทพร้อนมาก เราจะไปตลาดน้ำกันพรุ่งนี้"),
    "km": ("កញ្ជ្រោងពណ៌ត្នោតលោតរំលងឆ្កែខ្ជិល។ ភ្នំពេញគឺជារាជធានីនៃប្រទេសកម្ពុជា។"),
    "am": ("ፈጣኑ ቡናማ ቀበሮ ሰነፉን ውሻ ዘሎ አለፈ። አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።"),
    "zh": (
        "敏捷的棕色狐狸跳过了懒狗。今天北京的天气很好，我们去公园散步吧。科学家们宣布发现了一颗新的行星。"
        "中华人民共和国成立于一九四九年。𠀀𠀁𪜀𫝀 是扩展区的汉字。"
    ),
    "zh-hant": ("敏捷的棕色狐狸跳過了懶狗。臺灣的夜市非常熱鬧，有很多好吃的東西。圖書館裡的學生們都在認真讀書。"),
    "ja": (
        "素早い茶色の狐がのろまな犬を飛び越える。東京は日本の首都で、人口がとても多いです。"
        "明日は雨が降るかもしれませんので、傘を持って行ってください。ｶﾀｶﾅ と ＡＢＣ と １２３。"
    ),
    "ko": (
        "빠른 갈색 여우가 게으른 개를 뛰어넘는다. 서울은 대한민국의 수도입니다. 내일은 친구들과 함께 "
        "한강 공원에 갈 예정이에요."
    ),
}

# Scripts written without spaces between words: "words" are drawn as runs of 1 to 4 characters.
_UNSPACED = frozenset({"zh", "zh-hant", "ja", "th", "km"})
_EXTRAS = (
    "COVID-19",
    "2024",
    "3.14",
    "e-mail",
    "OK",
    "iPhone",
    "🙂",
    "🎉🎉",
    "👍🏽",
    "https://example.org/a?b=1",
    "#hashtag",
    "@user",
    "(ok)",
    "50%",
    "€12,50",
    "don't",
)


def _words(lang: str, text: str) -> list[str]:
    if lang in _UNSPACED:
        chars = [c for c in text if not c.isspace()]
        rng = random.Random(lang)  # noqa: S311 - test data, not secrets
        out, i = [], 0
        while i < len(chars):
            k = rng.randint(1, 4)
            out.append("".join(chars[i : i + k]))
            i += k
        return out
    return text.split()


_POOLS = {lang: _words(lang, text) for lang, text in PASSAGES.items()}


def multilingual_texts(n: int, *, seed: int = 0, english: float = 0.3) -> list[str]:
    """`n` sentences of 3 to 30 words, each in one language of `PASSAGES` (English for a share `english` of them).

    Words are drawn with Zipf-like weights (the language's first words are the most frequent), one word in 30 is
    misspelt (a letter swapped for another of the language, so new words keep appearing), and one in 25 is a
    number, an English loan, an emoji or a URL. The same `seed` gives the same sentences.

    Example:
        >>> texts = multilingual_texts(3, seed=1)
        >>> len(texts)
        3
    """
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    langs = [lang for lang in PASSAGES if lang != "en"]
    weights = {lang: [1.0 / (1 + r) ** 0.8 for r in range(len(pool))] for lang, pool in _POOLS.items()}
    english_pool = _POOLS["en"]
    alphabets = {lang: sorted(set("".join(pool)) - set(" .,;:!?")) for lang, pool in _POOLS.items()}
    out = []
    for _ in range(n):
        lang = "en" if rng.random() < english else rng.choice(langs)
        pool = _POOLS[lang]
        words = rng.choices(pool, weights[lang], k=rng.randint(3, 30))
        for i, word in enumerate(words):
            roll = rng.random()
            if roll < 1 / 30 and len(word) > 1:
                j = rng.randrange(len(word))
                words[i] = word[:j] + rng.choice(alphabets[lang]) + word[j + 1 :]
            elif roll < 1 / 30 + 1 / 25:
                words[i] = rng.choice((*_EXTRAS, rng.choice(english_pool), str(rng.randint(0, 99999))))
        out.append(("" if lang in _UNSPACED and rng.random() < 0.7 else " ").join(words))
    return out
