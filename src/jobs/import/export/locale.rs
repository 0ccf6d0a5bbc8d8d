//! What WhatsApp writes into a chat export in each language, as data: supporting a new
//! language means adding a row here, never new parsing code. Phrases are compared
//! case-insensitively after direction marks are removed; an export does not say its
//! language, so every row is consulted for every file.

/// The kind of attachment a placeholder or file stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Image,
    Video,
    Gif,
    Audio,
    Sticker,
    Document,
    Contact,
    /// Android's `<Media omitted>` does not say which kind.
    Unknown,
}

impl Media {
    /// The stored attachment type, which is also the message's kind.
    pub fn media_type(self) -> &'static str {
        match self {
            Media::Image => "image",
            Media::Video | Media::Gif => "video",
            Media::Audio => "audio",
            Media::Sticker => "sticker",
            Media::Document => "document",
            Media::Contact => "contact",
            Media::Unknown => "media",
        }
    }
}

/// How a 12-hour clock's day period moves the hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// 12 is midnight, 1–11 stay.
    Am,
    /// 12 is noon, 1–11 move to the afternoon.
    Pm,
    /// "at night": 6–11 are evening hours, 12 and 1–5 are after midnight.
    Night,
}

pub struct Locale {
    /// Names the row for people who edit the table (and for the tests).
    #[allow(dead_code)]
    pub language: &'static str,
    /// iOS `<attached: NAME>`: the word before the colon.
    pub attached_tags: &'static [&'static str],
    /// Android `NAME (file attached)`: the words in parentheses.
    pub file_attached: &'static [&'static str],
    /// Android `<Media omitted>`: the words in angle brackets.
    pub media_omitted: &'static [&'static str],
    /// iOS `image omitted` and kin; a document's comes after its file name.
    pub omitted: &'static [(&'static str, Media)],
    /// Deleted-message notices, without their optional full stop.
    pub deleted: &'static [&'static str],
    /// `<This message was edited>`: the words in angle brackets, at the end of a text.
    pub edited: &'static [&'static str],
    /// How notices that WhatsApp attributes to a person begin (encryption, security
    /// code changes): such lines are not messages.
    pub notices: &'static [&'static str],
    /// Day periods of 12-hour clocks, before or after the time.
    pub periods: &'static [(&'static str, Period)],
    /// Words some locales put between the date and the time (Finnish `klo`).
    pub connectors: &'static [&'static str],
}

const NONE: &[&str] = &[];

/// Missed calls as an export writes them, lower-case: calls, not text (stored as kind
/// `call`, never answered).
pub const MISSED_CALLS: &[(&str, &str)] = &[
    ("missed voice call", "[voice call, missed]"),
    ("missed video call", "[video call, missed]"),
    ("missed group voice call", "[group voice call, missed]"),
    ("missed group video call", "[group video call, missed]"),
    ("verpasster sprachanruf", "[voice call, missed]"),
    ("verpasster videoanruf", "[video call, missed]"),
];

/// What follows the subject (the author, or "you") in the events iOS writes under a
/// person's or the group's name, lower-case, in every language seen so far. Consulted
/// only for a body that starts with the left-to-right mark iOS puts before its lines.
pub const EVENT_VERBS: &[&str] = &[
    " created this group",
    " created group",
    " added ",
    " removed ",
    " left",
    " changed the subject",
    " changed this group",
    " changed the group",
    " joined using this group",
    " hat die gruppe",
    " hast die gruppe",
    " hat dich hinzugefügt",
];

/// Notices iOS writes under a name that name no subject, lower-case.
pub const MARKED_NOTICES: &[&str] = &[
    "this business uses a secure service from meta",
    "sicherheitsnummer für",
    "your security code with",
];

pub const LOCALES: &[Locale] = &[
    Locale {
        language: "en",
        attached_tags: &["attached"],
        file_attached: &["file attached"],
        media_omitted: &["Media omitted"],
        omitted: &[
            ("image omitted", Media::Image),
            ("photo omitted", Media::Image),
            ("video omitted", Media::Video),
            ("GIF omitted", Media::Gif),
            ("audio omitted", Media::Audio),
            ("sticker omitted", Media::Sticker),
            ("document omitted", Media::Document),
            ("Contact card omitted", Media::Contact),
        ],
        deleted: &["This message was deleted", "You deleted this message"],
        edited: &["This message was edited"],
        notices: &[
            "Messages and calls are end-to-end encrypted",
            "Messages to this group are now secured with end-to-end encryption",
            "Messages to this chat and calls are now secured with end-to-end encryption",
            "Messages you send to this chat and calls are now secured with end-to-end encryption",
            "Your security code with",
            "This business uses a secure service from Meta to manage this chat",
        ],
        periods: &[
            ("AM", Period::Am),
            ("PM", Period::Pm),
            ("a.m.", Period::Am),
            ("p.m.", Period::Pm),
            ("in the morning", Period::Am),
            ("in the afternoon", Period::Pm),
            ("in the evening", Period::Pm),
            ("at night", Period::Night),
            ("noon", Period::Pm),
        ],
        connectors: NONE,
    },
    Locale {
        language: "de",
        attached_tags: &["Anhang"],
        file_attached: &["Datei angehängt"],
        media_omitted: &["Medien ausgeschlossen", "Medien weggelassen"],
        omitted: &[
            ("Bild weggelassen", Media::Image),
            ("Video weggelassen", Media::Video),
            ("GIF weggelassen", Media::Gif),
            ("Audio weggelassen", Media::Audio),
            ("Sticker weggelassen", Media::Sticker),
            ("Dokument weggelassen", Media::Document),
            ("Kontaktkarte ausgelassen", Media::Contact),
        ],
        deleted: &[
            "Diese Nachricht wurde gelöscht",
            "Du hast diese Nachricht gelöscht",
        ],
        edited: &["Diese Nachricht wurde bearbeitet"],
        notices: &[
            "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt",
            "Dein Sicherheitscode für",
            "Deine Sicherheitsnummer für",
        ],
        periods: &[("vorm.", Period::Am), ("nachm.", Period::Pm)],
        connectors: &["um"],
    },
    Locale {
        language: "nl",
        // Older iOS writes `3.jpg <bijgevoegd>`.
        attached_tags: &["bijlage", "bijgevoegd"],
        file_attached: &["bestand bijgevoegd"],
        media_omitted: &["Media weggelaten"],
        omitted: &[
            ("afbeelding weggelaten", Media::Image),
            ("video weggelaten", Media::Video),
            ("GIF weggelaten", Media::Gif),
            ("audio weggelaten", Media::Audio),
            ("sticker weggelaten", Media::Sticker),
            ("document weggelaten", Media::Document),
            ("contactkaart weggelaten", Media::Contact),
        ],
        deleted: &[
            "Dit bericht is verwijderd",
            "U hebt dit bericht verwijderd",
            "Je hebt dit bericht verwijderd",
        ],
        edited: &["Dit bericht is bewerkt"],
        notices: &[
            "Berichten en oproepen worden end-to-end versleuteld",
            "Je beveiligingscode met",
        ],
        periods: &[],
        connectors: &["om"],
    },
    Locale {
        language: "fr",
        attached_tags: &["pièce jointe"],
        file_attached: &["fichier joint"],
        media_omitted: &["Médias omis", "Fichier omis"],
        omitted: &[
            ("image absente", Media::Image),
            ("vidéo absente", Media::Video),
            ("GIF retiré", Media::Gif),
            ("audio omis", Media::Audio),
            ("sticker omis", Media::Sticker),
            ("document manquant", Media::Document),
            ("Fiche contact manquante", Media::Contact),
        ],
        deleted: &["Ce message a été supprimé", "Vous avez supprimé ce message"],
        edited: &["Ce message a été modifié"],
        notices: &[
            "Les messages et les appels sont chiffrés de bout en bout",
            "Votre code de sécurité avec",
        ],
        periods: &[],
        connectors: &["à"],
    },
    Locale {
        language: "es",
        attached_tags: &["adjunto"],
        file_attached: &["archivo adjunto"],
        media_omitted: &["Multimedia omitido", "Archivo omitido"],
        omitted: &[
            ("imagen omitida", Media::Image),
            ("Video omitido", Media::Video),
            ("GIF omitido", Media::Gif),
            ("audio omitido", Media::Audio),
            ("sticker omitido", Media::Sticker),
            ("documento omitido", Media::Document),
            ("Tarjeta de contacto omitida", Media::Contact),
        ],
        deleted: &["Se eliminó este mensaje", "Eliminaste este mensaje"],
        edited: &["Se editó este mensaje"],
        notices: &[
            "Los mensajes y las llamadas están cifrados de extremo a extremo",
            "Tu código de seguridad con",
        ],
        periods: &[
            ("a. m.", Period::Am),
            ("p. m.", Period::Pm),
            ("de la mañana", Period::Am),
            ("de la madrugada", Period::Am),
            ("del mediodía", Period::Pm),
            ("de la tarde", Period::Pm),
            ("de la noche", Period::Night),
        ],
        connectors: NONE,
    },
    Locale {
        language: "pt",
        attached_tags: &["anexado"],
        file_attached: &["arquivo anexado", "ficheiro anexado"],
        media_omitted: &[
            "Mídia oculta",
            "Mídia omitida",
            "Multimédia omitido",
            "Ficheiro omitido",
        ],
        omitted: &[
            ("imagem não revelada", Media::Image),
            ("imagem ocultada", Media::Image),
            ("vídeo não revelado", Media::Video),
            ("vídeo omitido", Media::Video),
            ("GIF não revelada", Media::Gif),
            ("GIF omitido", Media::Gif),
            ("ficheiro de áudio não revelado", Media::Audio),
            ("áudio ocultado", Media::Audio),
            ("sticker não revelado", Media::Sticker),
            ("figurinha omitida", Media::Sticker),
            ("documento não revelado", Media::Document),
            ("Contacto não revelado", Media::Contact),
            ("cartão de contato omitido", Media::Contact),
        ],
        deleted: &[
            "Esta mensagem foi apagada",
            "Apagou esta mensagem",
            "Você apagou esta mensagem",
            "Mensagem apagada",
        ],
        edited: &["Esta mensagem foi editada", "Mensagem editada"],
        notices: &[
            "As mensagens e chamadas são encriptadas ponto a ponto",
            "As mensagens e as chamadas são protegidas com a criptografia de ponta a ponta",
        ],
        periods: &[
            ("da manhã", Period::Am),
            ("da madrugada", Period::Am),
            ("da tarde", Period::Pm),
            ("da noite", Period::Night),
        ],
        connectors: NONE,
    },
    Locale {
        language: "it",
        attached_tags: &["allegato"],
        file_attached: &["file allegato"],
        media_omitted: &["Media omessi"],
        omitted: &[
            ("immagine omessa", Media::Image),
            ("video omesso", Media::Video),
            ("GIF esclusa", Media::Gif),
            ("audio omesso", Media::Audio),
            ("sticker non incluso", Media::Sticker),
            ("documento omesso", Media::Document),
            ("Scheda contatto omessa", Media::Contact),
        ],
        deleted: &[
            "Questo messaggio è stato eliminato",
            "Hai eliminato questo messaggio",
        ],
        edited: &["Questo messaggio è stato modificato"],
        notices: &[
            "I messaggi e le chiamate sono crittografati end-to-end",
            "Il tuo codice di sicurezza con",
        ],
        periods: &[],
        connectors: &["alle"],
    },
    Locale {
        language: "ru",
        attached_tags: &["вложение"],
        file_attached: &["файл добавлен"],
        media_omitted: &["Без медиафайлов"],
        omitted: &[
            ("изображение отсутствует", Media::Image),
            ("видео отсутствует", Media::Video),
            ("GIF отсутствует", Media::Gif),
            ("аудиофайл отсутствует", Media::Audio),
            ("стикер не добавлен", Media::Sticker),
            ("документ отсутствует", Media::Document),
            ("Карточка контакта отсутствует", Media::Contact),
        ],
        deleted: &[
            "Данное сообщение удалено",
            "Вы удалили данное сообщение",
            "Это сообщение удалено",
        ],
        edited: &["Сообщение изменено", "Это сообщение было изменено"],
        notices: &[
            "Сообщения и звонки защищены сквозным шифрованием",
            "Ваш код безопасности с",
        ],
        periods: &[],
        connectors: NONE,
    },
    Locale {
        language: "uk",
        attached_tags: &["вкладення"],
        file_attached: &["файл додано"],
        media_omitted: &["Без медіафайлів", "Медіафайли пропущено"],
        omitted: &[
            ("зображення відсутнє", Media::Image),
            ("відео відсутнє", Media::Video),
            ("GIF-анімацію пропущено", Media::Gif),
            ("аудіо відсутнє", Media::Audio),
            ("Наклейку не додано", Media::Sticker),
            ("документ пропущено", Media::Document),
            ("Картка контакту відсутня", Media::Contact),
        ],
        deleted: &[
            "Це повідомлення було видалено",
            "Ви видалили це повідомлення",
        ],
        edited: &["Повідомлення змінено"],
        notices: &[
            "Повідомлення й дзвінки захищено наскрізним шифруванням",
            "Ваш код безпеки з",
        ],
        periods: &[],
        connectors: NONE,
    },
    Locale {
        language: "cs",
        attached_tags: &["příloha"],
        file_attached: &["soubor byl přiložen"],
        media_omitted: &["Média vynechány"],
        omitted: &[
            ("obrázek vynechán", Media::Image),
            ("video vynecháno", Media::Video),
            ("GIF vynechán", Media::Gif),
            ("zvukový soubor vynechán", Media::Audio),
            ("nálepka vynechána", Media::Sticker),
            ("dokument vynechán", Media::Document),
            ("Vizitka vynechána", Media::Contact),
        ],
        deleted: &[
            "Tato zpráva byla smazána",
            "Tato zpráva byla odstraněna",
            "Tuto zprávu jste smazal/a",
            "Tuto zprávu jste odstranil/a",
        ],
        edited: &["Tato zpráva byla upravena"],
        notices: &[
            "Zprávy a hovory jsou zabezpečeny koncovým šifrováním",
            "Zprávy a hovory jsou opatřeny koncovým šifrováním",
            "Váš bezpečnostní kód s",
        ],
        periods: &[("dop.", Period::Am), ("odp.", Period::Pm)],
        connectors: NONE,
    },
    Locale {
        language: "tr",
        attached_tags: &["eklendi"],
        file_attached: &["dosya ekli"],
        media_omitted: &["Medya dahil edilmedi", "Medya atlandı"],
        omitted: &[
            ("görüntü dahil edilmedi", Media::Image),
            ("video dahil edilmedi", Media::Video),
            ("GIF dahil edilmedi", Media::Gif),
            ("ses dahil edilmedi", Media::Audio),
            ("çıkartma dahil edilmedi", Media::Sticker),
            ("belge dahil edilmedi", Media::Document),
            ("Kişi kartı dahil edilmedi", Media::Contact),
        ],
        deleted: &["Bu mesaj silindi", "Bu mesajı sildiniz"],
        edited: &["Bu mesaj düzenlendi"],
        notices: &["Mesajlar ve aramalar uçtan uca şifrelidir"],
        periods: &[("ÖÖ", Period::Am), ("ÖS", Period::Pm)],
        connectors: NONE,
    },
    Locale {
        language: "id",
        attached_tags: &["terlampir"],
        file_attached: &["file terlampir"],
        media_omitted: &["Media tidak disertakan"],
        omitted: &[
            ("gambar tidak disertakan", Media::Image),
            ("video tidak disertakan", Media::Video),
            ("GIF tidak disertakan", Media::Gif),
            ("audio tidak disertakan", Media::Audio),
            ("stiker tidak disertakan", Media::Sticker),
            ("dokumen tidak disertakan", Media::Document),
            ("Kartu kontak tidak disertakan", Media::Contact),
        ],
        deleted: &["Pesan ini dihapus", "Anda menghapus pesan ini"],
        edited: &["Pesan ini diedit"],
        notices: &[
            "Pesan dan panggilan terenkripsi secara end-to-end",
            "Kode keamanan Anda dengan",
        ],
        periods: &[],
        connectors: &["pukul"],
    },
    Locale {
        language: "ar",
        attached_tags: &["مرفق"],
        file_attached: &["ملف مرفق"],
        media_omitted: &["تم استبعاد الوسائط", "الوسائط غير مضمنة"],
        omitted: &[
            ("لم يتم إدراج الصورة", Media::Image),
            ("لم يتم إدراج الفيديوهات", Media::Video),
            ("لم يتم إدراج صورة GIF", Media::Gif),
            ("لم يتم إدراج المقاطع الصوتية", Media::Audio),
            ("تم حذف الملصقات", Media::Sticker),
            ("لم يتم إدراج المستند", Media::Document),
            ("لم يتم إدراج بطاقة جهة اتصال", Media::Contact),
        ],
        deleted: &[
            "تم حذف هذه الرسالة",
            "لقد حذَفت هذه الرسالة",
            "لقد حذفت هذه الرسالة",
            "أنت حذفت هذه الرسالة",
        ],
        edited: &["تم تعديل هذه الرسالة"],
        notices: &["الرسائل والمكالمات مشفرة تمامًا بين الطرفين"],
        periods: &[("ص", Period::Am), ("م", Period::Pm)],
        connectors: NONE,
    },
    Locale {
        language: "hi",
        attached_tags: NONE,
        file_attached: NONE,
        media_omitted: NONE,
        omitted: &[
            ("फ़ोटो हटाई गई", Media::Image),
            ("वीडियो छोड़ा गया", Media::Video),
            ("GIF छोड़ा गया", Media::Gif),
            ("ऑडियो हटाई गयी", Media::Audio),
            ("स्टिकर छोड़ा गया", Media::Sticker),
            ("डॉक्यूमेंट छोड़ा गया", Media::Document),
            ("कॉन्टैक्ट कार्ड छोड़ा गया", Media::Contact),
        ],
        deleted: &["यह मैसेज डिलीट कर दिया गया है", "आपने यह मैसेज डिलीट किया"],
        edited: NONE,
        notices: &["मैसेजेस और कॉल्स एंड-टू-एंड एन्क्रिप्टेड हैं"],
        periods: &[("पूर्वाह्न", Period::Am), ("अपराह्न", Period::Pm)],
        connectors: NONE,
    },
    Locale {
        language: "ja",
        attached_tags: NONE,
        file_attached: &["ファイル添付"],
        media_omitted: &["メディアは含まれていません", "メディアなし"],
        omitted: &[
            ("画像は含まれていません", Media::Image),
            ("ビデオは含まれていません", Media::Video),
            ("GIFは含まれていません", Media::Gif),
            ("音声は含まれていません", Media::Audio),
            ("スタンプは含まれていません", Media::Sticker),
            ("ドキュメントは含まれていません", Media::Document),
            ("連絡先カードを省略", Media::Contact),
        ],
        deleted: &[
            "このメッセージは削除されました",
            "このメッセージを削除しました",
        ],
        edited: NONE,
        notices: &["メッセージと通話はエンドツーエンド暗号化されています"],
        periods: &[("午前", Period::Am), ("午後", Period::Pm)],
        connectors: NONE,
    },
    Locale {
        language: "th",
        attached_tags: NONE,
        file_attached: NONE,
        media_omitted: NONE,
        omitted: &[
            ("ไม่มีรูปภาพ", Media::Image),
            ("วิดีโอถูกลบ", Media::Video),
            ("ละเว้น GIF", Media::Gif),
            ("ไม่มีไฟล์เสียง", Media::Audio),
            ("ไม่มีสติกเกอร์", Media::Sticker),
            ("ละเว้นเอกสาร", Media::Document),
            ("บัตรรายชื่อที่ละเว้น", Media::Contact),
        ],
        deleted: &["ข้อความนี้ถูกลบแล้ว", "คุณได้ลบข้อความนี้"],
        edited: NONE,
        notices: &["ข้อความและการโทรได้รับการเข้ารหัสจากต้นทางถึงปลายทาง"],
        periods: &[("ก่อนเที่ยง", Period::Am), ("หลังเที่ยง", Period::Pm)],
        connectors: NONE,
    },
    Locale {
        language: "vi",
        attached_tags: NONE,
        file_attached: NONE,
        media_omitted: NONE,
        omitted: &[
            ("đã bỏ qua hình ảnh", Media::Image),
            ("đã bỏ video", Media::Video),
            ("Đã bỏ qua ảnh GIF", Media::Gif),
            ("bỏ qua tệp âm thanh", Media::Audio),
            ("đã bỏ sticker", Media::Sticker),
            ("đã bỏ qua tài liệu", Media::Document),
            ("Bỏ qua thẻ liên lạc", Media::Contact),
        ],
        deleted: &[
            "Tin nhắn này đã bị xóa",
            "Bạn đã xoá tin nhắn này",
            "Bạn đã xóa tin nhắn này",
        ],
        edited: NONE,
        notices: &["Tin nhắn và cuộc gọi được mã hóa đầu cuối"],
        periods: &[("SA", Period::Am), ("CH", Period::Pm)],
        connectors: &["lúc"],
    },
    Locale {
        language: "fi",
        attached_tags: NONE,
        file_attached: NONE,
        media_omitted: &["Media jätetty pois"],
        omitted: &[],
        deleted: &["Tämä viesti poistettiin"],
        edited: NONE,
        notices: &["Viestit ja puhelut ovat päästä päähän salattuja"],
        periods: &[("ap.", Period::Am), ("ip.", Period::Pm)],
        connectors: &["klo"],
    },
    Locale {
        language: "zh/ko/el",
        attached_tags: NONE,
        file_attached: NONE,
        media_omitted: NONE,
        omitted: &[],
        deleted: NONE,
        edited: NONE,
        notices: NONE,
        periods: &[
            ("上午", Period::Am),
            ("凌晨", Period::Am),
            ("下午", Period::Pm),
            ("中午", Period::Pm),
            ("晚上", Period::Pm),
            ("오전", Period::Am),
            ("오후", Period::Pm),
            ("π.μ.", Period::Am),
            ("μ.μ.", Period::Pm),
        ],
        connectors: NONE,
    },
];

/// Names WhatsApp gives itself in notices: the first line of an export in a language
/// without a row is still recognised as the encryption notice when it names WhatsApp.
pub const BRAND_NAMES: &[&str] = &["WhatsApp", "واتساب"];

/// Calendar eras written before a year (Japanese `R4`): the year before the era's first.
pub const ERA_PREFIXES: &[(char, i32)] = &[
    ('R', 2018), // Reiwa
    ('H', 1988), // Heisei
    ('S', 1925), // Showa
];

/// Buddhist-era years (Thai `2565 BE`) run this far ahead of the Gregorian ones.
pub const BUDDHIST_OFFSET: i32 = 543;
/// Suffixes after a date that mark a Buddhist-era year.
pub const BUDDHIST_SUFFIXES: &[&str] = &["BE", "พ.ศ."];
/// Three-digit years are the Minguo calendar (Taiwan): year 1 is 1912.
pub const MINGUO_OFFSET: i32 = 1911;

/// Every table entry of one kind, from all locales.
pub fn all<T: Copy + 'static>(pick: impl Fn(&Locale) -> &'static [T]) -> impl Iterator<Item = T> {
    LOCALES.iter().flat_map(move |l| pick(l).iter().copied())
}
