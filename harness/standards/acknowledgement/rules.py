"""The acknowledgement's rule ids (the `ack` and `same-ack` checks), Danish and English titles."""

from harness.model.i18n import Text

RULES: dict[str, Text] = {
    "ACK-HTTP": Text(
        "En meddelelse skal besvares med HTTP 200 og en kvittering",
        "A message must be answered HTTP 200 with an acknowledgement",
    ),
    "ACK-TYPE": Text(
        "Svaret er ikke en kvitteringsmeddelelse (Bundle af typen message)",
        "The answer is not an acknowledgement message (Bundle of type message)",
    ),
    "ACK-HEADER": Text(
        "Første entry i kvitteringen er ikke en MessageHeader",
        "The acknowledgement's first entry is not a MessageHeader",
    ),
    "ACK-EVENT": Text(
        "Kvitteringens eventkode er ikke acknowledgement-message",
        "The acknowledgement's event code is not acknowledgement-message",
    ),
    "ACK-REF": Text(
        "Kvitteringen henviser ikke til den modtagne MessageHeader.id",
        "The acknowledgement does not reference the received MessageHeader.id",
    ),
    "ACK-CODE": Text("Forkert kvitteringskode", "Wrong acknowledgement code"),
    "ACK-SENDER": Text(
        "Kvitteringens afsender er ikke SUT", "The acknowledgement's sender is not the SUT"
    ),
    "ACK-RECEIVER": Text(
        "Kvitteringens modtager er ikke den oprindelige afsender",
        "The acknowledgement's receiver is not the original sender",
    ),
    "ACK-OO": Text(
        "Negativ kvittering uden OperationOutcome (medcom-acknowledgement-1)",
        "Negative acknowledgement without OperationOutcome (medcom-acknowledgement-1)",
    ),
    "ACK-OO-REF": Text(
        "response.details peger ikke på OperationOutcome i kvitteringen",
        "response.details does not reference the OperationOutcome in the acknowledgement",
    ),
    "ACK-PROFILE": Text(
        "Kvitteringen angiver ikke MedComs acknowledgement-profil",
        "The acknowledgement does not name MedCom's acknowledgement profile",
    ),
    "ACK-DUP": Text(
        "En dublet blev ikke kvitteret som originalen",
        "A duplicate was not acknowledged like the original",
    ),
}
