/*
 * The interface engine's side of the ADT feed (issue 21), played by HAPI HL7 v2 2.5.1: a real HL7
 * implementation that is not bedside-hub's parser. Builds each message with HAPI's v2.6 model,
 * sends it over MLLP with HAPI's own client (HapiContext.newClient → Initiator.sendAndReceive,
 * which waits for the ACK whose MSA-2 is the message's MSH-10), and reads the ACK with HAPI's
 * parser. Run by test/hl7/adt.test.ts as a single-file program:
 *
 *   java -cp <hapi classpath> AdtSender.java HOST PORT SCRIPT
 *
 * SCRIPT: one message per line, tab-separated, "-" for an empty field:
 *   controlId trigger mrn authority family given birthDate(YYYYMMDD) pointOfCare room bed visit priorMrn eventTime
 * (eventTime: EVN-2 and EVN-6 as a DTM, e.g. 20261205081500+0000; "-": the message time.)
 * A line "#reconnect" closes the connection and opens a new one (a re-send after a lost ACK does).
 * Output: one line per message on stdout, tab-separated:
 *   controlId MSA-1 MSA-2 ERR-2(segment^sequence^field) ERR-3.1 ERR-8
 */
import ca.uhn.hl7v2.DefaultHapiContext;
import ca.uhn.hl7v2.HapiContext;
import ca.uhn.hl7v2.app.Connection;
import ca.uhn.hl7v2.model.AbstractMessage;
import ca.uhn.hl7v2.model.Message;
import ca.uhn.hl7v2.model.v26.message.ADT_A01;
import ca.uhn.hl7v2.model.v26.message.ADT_A02;
import ca.uhn.hl7v2.model.v26.message.ADT_A03;
import ca.uhn.hl7v2.model.v26.message.ADT_A05;
import ca.uhn.hl7v2.model.v26.message.ADT_A09;
import ca.uhn.hl7v2.model.v26.message.ADT_A12;
import ca.uhn.hl7v2.model.v26.message.ADT_A39;
import ca.uhn.hl7v2.model.v26.segment.EVN;
import ca.uhn.hl7v2.model.v26.segment.MRG;
import ca.uhn.hl7v2.model.v26.segment.MSH;
import ca.uhn.hl7v2.model.v26.segment.PID;
import ca.uhn.hl7v2.model.v26.segment.PV1;
import ca.uhn.hl7v2.util.Terser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

public class AdtSender {
  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    List<String> lines = Files.readAllLines(Path.of(args[2]));
    try (HapiContext ctx = new DefaultHapiContext()) {
      Connection conn = open(ctx, host, port);
      for (String line : lines) {
        if (line.isBlank()) continue;
        if (line.equals("#reconnect")) {
          conn.close();
          conn = open(ctx, host, port);
          continue;
        }
        String[] f = line.split("\t", -1);
        Message msg = build(f);
        Message ack = conn.getInitiator().sendAndReceive(msg);
        Terser t = new Terser(ack);
        String err2 = String.join("^", nz(t.get("/ERR-2-1")), nz(t.get("/ERR-2-2")), nz(t.get("/ERR-2-3")));
        System.out.println(String.join("\t", f[0], nz(t.get("/MSA-1")), nz(t.get("/MSA-2")), err2.equals("^^") ? "" : err2, nz(t.get("/ERR-3-1")), nz(t.get("/ERR-8"))));
        System.out.flush();
      }
      conn.close();
    }
  }

  static Connection open(HapiContext ctx, String host, int port) throws Exception {
    Connection c = ctx.newClient(host, port, false);
    c.getInitiator().setTimeout(30, TimeUnit.SECONDS);
    return c;
  }

  static String nz(String s) {
    return s == null ? "" : s;
  }

  static boolean has(String s) {
    return !s.equals("-");
  }

  /** One ADT message in the v2.6 structure its trigger uses (v2.6 chapter 3 event-to-structure table). */
  static Message build(String[] f) throws Exception {
    String controlId = f[0], trigger = f[1];
    AbstractMessage m;
    switch (trigger) {
      case "A01": case "A04": case "A08": case "A13": m = new ADT_A01(); break;
      case "A02": m = new ADT_A02(); break;
      case "A03": m = new ADT_A03(); break;
      case "A11": m = new ADT_A09(); break;
      case "A12": m = new ADT_A12(); break;
      case "A40": m = new ADT_A39(); break;
      case "A31": m = new ADT_A05(); break; // an event the ward does not act on
      default: throw new IllegalArgumentException("no structure for " + trigger);
    }
    m.initQuickstart("ADT", trigger, "P");
    Terser t = new Terser(m);
    MSH msh = (MSH) t.getSegment("/MSH");
    msh.getSendingApplication().getNamespaceID().setValue("HAPI-ENGINE");
    msh.getSendingFacility().getNamespaceID().setValue("GENERAL");
    msh.getReceivingApplication().getNamespaceID().setValue("BEDSIDE-HUB");
    msh.getReceivingFacility().getNamespaceID().setValue("WARD-3A");
    msh.getMessageControlID().setValue(controlId); // fixed, so that a re-send carries the same MSH-10
    EVN evn = (EVN) t.getSegment("/.EVN");
    boolean timed = f.length > 12 && has(f[12]);
    evn.getRecordedDateTime().setValue(timed ? f[12] : msh.getDateTimeOfMessage().getValue());
    if (timed) evn.getEventOccurred().setValue(f[12]); // EVN-6: when it happened in the hospital
    PID pid = (PID) t.getSegment("/.PID");
    pid.getSetIDPID().setValue("1");
    if (has(f[2])) {
      pid.getPatientIdentifierList(0).getIDNumber().setValue(f[2]);
      pid.getPatientIdentifierList(0).getAssigningAuthority().getNamespaceID().setValue(f[3]);
      pid.getPatientIdentifierList(0).getIdentifierTypeCode().setValue("MR");
    }
    if (has(f[4])) pid.getPatientName(0).getFamilyName().getSurname().setValue(f[4]);
    if (has(f[5])) pid.getPatientName(0).getGivenName().setValue(f[5]);
    if (has(f[6])) pid.getDateTimeOfBirth().setValue(f[6]);
    if (!trigger.equals("A40")) {
      PV1 pv1 = (PV1) t.getSegment("/.PV1");
      pv1.getSetIDPV1().setValue("1");
      pv1.getPatientClass().setValue("I");
      if (has(f[7])) pv1.getAssignedPatientLocation().getPointOfCare().setValue(f[7]);
      if (has(f[8])) pv1.getAssignedPatientLocation().getRoom().setValue(f[8]);
      if (has(f[9])) pv1.getAssignedPatientLocation().getBed().setValue(f[9]);
      if (has(f[10])) pv1.getVisitNumber().getIDNumber().setValue(f[10]);
    } else {
      MRG mrg = (MRG) t.getSegment("/.MRG");
      mrg.getPriorPatientIdentifierList(0).getIDNumber().setValue(f[11]);
      mrg.getPriorPatientIdentifierList(0).getAssigningAuthority().getNamespaceID().setValue(f[3]);
      mrg.getPriorPatientIdentifierList(0).getIdentifierTypeCode().setValue("MR");
    }
    return m;
  }
}
