"""FHIR R4 TestScript execution against a SUT (`kcert testscript run`).

Layer: beside the session, under the front doors. `run` uses the session (SUT lifecycle) and
the report writer; everything else here uses only transports, fhir, validators and model
objects, and nothing here imports the reference LPS.

Roles. A script whose operations name no `origin` treats the SUT as the FHIR server and kcert
as the client. MedCom's TouchStone scripts name `origin` 1 (the SUT, a FHIR client) and
`destination` 1 (TouchStone's server): kcert then plays that server. Operations without
origin act on kcert's mailbox (placing or removing fixtures); the SUT `read`ing a message
from the mailbox is delivered to it with `POST {fhir}/$process-message`; a message the SUT
sends is received only when kcert already holds it (the acknowledgement returned to a
delivery). Details in `operations`.

Supported: fixtures (fixtures map, relative paths inside the folder tree, a file name found
once in the tree, `file.tgz#member`, contained `#id`), variables (expression, headerField,
path, defaultValue; `${kcert-fhir-base}` and `${kcert-agent-base}` name the SUT's endpoints),
setup/test/teardown, operations create, read, vread, update, updateCreate, delete (also
conditional), search, history, transaction, batch, capabilities, process-message and a bare
`method`; asserts response, responseCode, contentType, expression, path (XPath on XML, a
JSONPath subset on JSON), validateProfileId (installed fhir-package packs or `--package`),
resource, headerField, requestMethod, requestURL, minimumId, compareToSourceId with
compareToSourceExpression/Path, navigationLinks; every operator; stopTestOnFail; warningOnly
(a failure is then F4, else F2).

Unsupported, each reported as an error verdict "unsupported: … (file:section.action[n])":
operations patch, validate and other codes; `url` outside the SUT's endpoints; messages the
SUT sends on its own initiative (until kcert has a receiving endpoint, issue 5 item 3); the
SUT reading anything but a message; search or delete on kcert's mailbox by other search
parameters than `_id` and `message.destination-uri`. Fixture `autocreate`/`autodelete` and
`TestScript.metadata` capabilities are not acted on.

MedCom corpus (45 scripts, 102 kcert test cases counting each setup) against the clean
reference LPS. The fixture files the scripts name (`../Fixtures/CareCommunication-fixture*.xml`,
`/FHIRSandbox/.../Acknowledgement-fixture-*.xml`, `HospitalNotification-fixture-STIN-*.xml`)
are not published with them, so without `--fixtures-map` every setup errs naming the missing
file. With the acknowledgement fixtures mapped to the three Bundles inside
`acknowledgementtestscript-2.0.0.tgz` and the CareCommunication ones to a message for the SUT:
- pass (44): Acknowledgement receive-* (7 setups, 11 reads: the SUT receives an
  acknowledgement) and the first test of the 13 CareCommunication scripts with a setup
  (send-forward-*, send-reply-add-attachment/-attachment/-changecategory/-changetopic/-message,
  tec-01, tec-06: the SUT receives the message it is then to answer) with their setups. The
  scripts only ask for HTTP 200/201; kcert notes the acknowledgement code beside each read
  (the reference LPS answers acknowledgements it is sent with fatal-error: it receives only
  CareCommunication);
- unsupported (34): every "create … message" test, i.e. the SUT sending a CareCommunication
  (new, reply, forward): "unsupported: SUT-initiated create of … (send side, issue 5 item 3)";
- not run (24): Acknowledgement send-*: their setup needs HospitalNotification fixtures that
  are in no corpus package (and the reference LPS does not receive HospitalNotification).
"""
